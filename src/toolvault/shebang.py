"""The interpreter a script's first line names: ``#!/usr/bin/env python3`` is
``python3``, ``#!/bin/sh -eu`` is ``sh``. One reading of the shebang for everything that
labels a tool's language — ``context``'s code fences, the web UI's highlighting and the
MCP resources' MIME types — each with its own table of what a program means to it.
Standard library only, nothing imported: the command line's fast path uses it.
"""

from __future__ import annotations


def interpreter(text: str) -> str:
    """The program the shebang runs, by its file name ('' without a shebang); through
    ``env`` the first word that is not an option (``env -S python3 -u`` -> python3)."""
    if not text.startswith("#!"):
        return ""
    words = text[2:].split("\n", 1)[0].split()
    if not words:
        return ""
    program = words[0].rsplit("/", 1)[-1]
    if program == "env":
        program = next((w for w in words[1:] if not w.startswith("-")), "")
    return program


def family(program: str) -> str:
    """``program`` without a version at its end (``python3.12`` -> python, ``perl5`` ->
    perl), or itself when nothing else is left."""
    return program.rstrip("0123456789.") or program


def lookup(table: dict[str, str], text: str, default: str = "") -> str:
    """What ``table`` says of the shebang's interpreter, by its exact name, else by its
    family (``python3.12`` finds ``python3`` missing, then ``python``); else ``default``."""
    program = interpreter(text)
    if not program:
        return default
    return table.get(program) or table.get(family(program)) or default

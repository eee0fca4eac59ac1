"""``context``'s document: versions rendered for an agent's prompt, and cut to a budget.

Both ``context`` commands render through here — the full command line (local or through
a daemon) and the fast path (``fastcli/lineage.py``) — so that they print the same bytes.
An item is a version as ``show --json`` describes it (``ref``, the version's fields,
``signature_status``, ``yanked``, ``labels``, ``tool``) with its ``content`` and where it
came from. Standard library only: the fast path imports this without dataclasses.
"""

from __future__ import annotations

import re

from toolvault import shebang

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs start-up time
if TYPE_CHECKING:
    from typing import Any

LANGUAGES = {
    "bash": "bash",
    "sh": "sh",
    "zsh": "zsh",
    "python": "python",
    "python3": "python",
    "node": "javascript",
    "deno": "typescript",
    "ruby": "ruby",
    "perl": "perl",
}
INTRO = (
    "Each section is one exact, immutable version. To build on one, publish the new "
    "content with `toolvault add FILE --ref <ref>` so that the lineage is kept.\n"
)


def item(
    info: dict[str, Any], content: str, depth: int = 0, via: str | None = None
) -> dict[str, Any]:
    """One version of the document: ``info`` (``show --json``'s shape) with its content,
    ``depth`` (0: asked for; N: reached through N references) and ``via`` (the ref of the
    version whose reference brought it in)."""
    ref = f"{info['name']}:{info['version']}@sha256:{info['sha256']}"
    found: dict[str, Any] = {"ref": ref, **info, "content": content, "truncated": False}
    return found | {"omitted_bytes": 0, "depth": depth, "via": via}


def cut(text: str, budget: int) -> tuple[str, int]:
    """The longest start of ``text`` of at most ``budget`` UTF-8 bytes that ends on a
    whole character, and how many bytes were left out."""
    data = text.encode("utf-8")
    if len(data) <= budget:
        return text, 0
    end = max(budget, 0)
    while end and (data[end] & 0xC0) == 0x80:  # a continuation byte: back to its start
        end -= 1
    return data[:end].decode("utf-8"), len(data) - end


def fit(items: list[dict[str, Any]], max_bytes: int | None) -> None:
    """Cut the items' content to ``max_bytes`` in all, spent in their order (the versions
    asked for come first): each cut item gets ``truncated`` and ``omitted_bytes``."""
    if max_bytes is None:
        return
    left = max_bytes
    for found in items:
        shown, omitted = cut(found["content"], left)
        left -= len(shown.encode("utf-8"))
        if omitted:
            found["content"], found["truncated"], found["omitted_bytes"] = shown, True, omitted


def render(items: list[dict[str, Any]], intro: str = INTRO) -> str:
    """Markdown for a prompt: per version a header of its identity, provenance and state,
    then its content in a fence longer than any run of backticks inside it. ``intro``
    says how to build on a version (MCP's says publish with base_ref)."""
    parts = [f"# Tool versions from toolvault ({len(items)})\n\n{intro}"]
    parts += [_section(v) for v in items]
    return "\n".join(parts)


def _section(v: dict[str, Any]) -> str:
    text = v["content"]
    fence = _fence(text)
    header = "\n".join(_line(key, value) for key, value in _fields(v)) + usage_block(v["usage"])
    body = text if text.endswith("\n") or not text else text + "\n"
    head = f"## {v['name']}:{v['version']}\n\n{header}\n\n"
    return f"{head}{fence}{_language(text)}\n{body}{fence}\n{_cut_marker(v)}"


def _line(key: str, value: str) -> str:
    """``- key: value``; a block (a long prompt) starts on the lines below."""
    return f"- {key}:{value}" if value.startswith("\n") else f"- {key}: {value}"


def _fields(v: dict[str, Any]) -> list[tuple[str, str]]:
    tool = v["tool"]
    lifecycle = tool["lifecycle"] + (
        f" ({_one_line(tool['lifecycle_message'])})" if tool["lifecycle_message"] else ""
    )
    yanked = f"YANKED ({_one_line(v['yanked'])}); do not build on it" if v["yanked"] else "no"
    fields = [("name", v["name"]), ("version", str(v["version"]))]
    if v["description"]:
        fields.append(("description", _one_line(v["description"])))
    fields += [
        ("ref", v["ref"]),
        ("sha256", v["sha256"]),
        ("created_at", v["created_at"]),
        ("created_by", v["created_by"] or "-"),
        ("session", v["session_id"] or "-"),
        ("owner", tool["owner"]),
        ("lifecycle", lifecycle),
        ("labels", ", ".join(v["labels"]) or "-"),
        ("yanked", yanked),
        ("signature", v["signature_status"]),
        ("prompt", _long(v["prompt"]) if v["prompt"] else "-"),
    ]
    if v["message"]:
        fields.append(("message", _long(v["message"])))
    if v["references"]:
        fields.append(("references", ", ".join(v["references"])))
    if v["via"]:
        fields.append(("referenced by", v["via"]))
    return fields


def _long(text: str) -> str:
    """A prompt or message: one line as it is; several kept line by line in a fenced
    block inside the list item, where a line starting with ``#`` is text, never a
    heading, and a blank line never ends the field."""
    lines = text.splitlines()
    if len(lines) <= 1:
        return _one_line(text)
    fence = _fence(text)
    inner = "\n".join(f"  {line}".rstrip() for line in lines)
    return f"\n\n  {fence}text\n{inner}\n  {fence}"


def _cut_marker(v: dict[str, Any]) -> str:
    if not v["truncated"]:
        return ""
    shown = v["size"] - v["omitted_bytes"]
    return (
        f"\n> toolvault: content cut at {shown} of {v['size']} bytes; "
        f"{v['omitted_bytes']} bytes left out. `toolvault cat {v['ref']}` prints all of it.\n"
    )


def usage_block(usage: str | None) -> str:
    """The usage after a context header, as an indented (Markdown code) block: how to call
    the tool, read from it, never learnt by running it (SPEC §10)."""
    if not usage:
        return ""
    lines = "\n".join(f"    {line}".rstrip() for line in usage.splitlines())
    return f"\n- usage:\n\n{lines}"


def _fence(text: str) -> str:
    if "`" not in text:  # most tools: no scan for runs (a tenth of rendering a version)
        return "```"
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    return "`" * max(3, longest + 1)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _language(text: str) -> str:
    """A fence language from the shebang (``#!/usr/bin/env python3`` -> python)."""
    return shebang.lookup(LANGUAGES, text)

"""``toolvault --help`` and ``--version`` without click: the texts click prints.

``HELP`` is click's top-level help at the width click uses on any terminal of 80
columns or more (and on a pipe); ``tests/test_fastcli.py`` holds it equal to click's,
so a changed command docstring fails there until the text below is updated to what
``COLUMNS=80 python -m toolvault.cli --help`` prints. A narrower terminal gets click.
"""

from __future__ import annotations

import os
import sys

from toolvault import __version__

HELP_WIDTH = 80  # click wraps at min(columns, 80) - 2: the same text from 80 columns up

VERSION = f"toolvault, version {__version__}\n"

HELP = """\
Usage: toolvault [OPTIONS] COMMAND [ARGS]...

  toolvault: a versioned, tamper-evident registry for command-line tools.

  Every publish of a tool makes a new immutable version (tool:1, tool:2, ...).
  Address versions as NAME, NAME:latest, NAME:previous, NAME:-K, NAME:N,
  NAME:LABEL or NAME@sha256:HEX; put HOME/commands on your PATH to run the
  latest of every tool by its name.

Options:
  --home DIRECTORY  Vault home folder (default $TOOLVAULT_HOME or
                    ~/.toolvault).
  --json            Print data as JSON.
  --version         Show the version and exit.
  -h, --help        Show this message and exit.

Commands:
  init            Create the home folder and database (safe to run again).
  add             Publish files as new versions; '-' reads stdin (needs...
  ls              List tools with latest version, version count, owner...
  cat             Print the content of a version; NAME:versions prints...
  show            Show all metadata of one version plus its tool's owner...
  versions        Version command: list (default) | history | diff A B |...
  diff            Unified diff between two versions; with one spec,...
  rollback        Publish version V's content again as a new version...
  run             Run a version with ARGS; its stdin, stdout and exit...
  verify          Check hashes, chains, the audit log, signatures,...
  checkpoint      Print the audit log's current signed head (JSON): keep...
  sync            Rebuild commands/ from the database, removing strays.
  db              Schema migrations: status and migrate.
  backup          Copy the database to FILE, consistent even while others...
  recover         Rebuild a lost or damaged vault.db from the commands/...
  label           Point LABEL at a version (NAME:LABEL then resolves to...
  yank            Mark a version as not to be used; latest, previous and...
  deprecate       Mark a tool as deprecated: it still runs, with a warning.
  retire          Take a tool off PATH, keeping its history; publishing...
  owner           Transfer a tool to a new owner.
  grant           Make PRINCIPAL a maintainer of tool NAME (its owner or...
  revoke          Take PRINCIPAL's maintainer rights on tool NAME away...
  grants          List the maintainers of tool NAME.
  audit           Show the append-only audit log, or the entries about...
  keys            Signing keys (Ed25519) kept under HOME/keys.
  trust           The trust store: public keys whose signatures verify.
  ingest          Import tools from a local file, folder or pack, a URL,...
  pack            Tool packs: signed, versioned .tar.gz bundles of tool...
  migrate-legacy  Import a legacy, unversioned tool store; the source is...
  refs            List what a version references; --reverse lists what...
  search          Find tools by what they do, best first.
  context         Print versions with a header each, to paste into an...
  pull            Copy tools from the daemon at TOOLVAULT_URL into the...
  serve           Run the HTTP daemon: the JSON API under /v1,...
  token           Bearer tokens for the daemon: create, list, revoke...
  mcp             Serve the vault to an agent over MCP on stdin/stdout.
  status          Show the home, database, schema, counts, last write,...
  completion      Print the shell completion script for bash, zsh or fish.
  lock            Pin tools to exact versions in a lockfile.
  install         Install the versions a lockfile pins into a folder.
"""


def columns() -> int:
    """The terminal's width as ``shutil.get_terminal_size`` finds it (without its import)."""
    try:
        found = int(os.environ.get("COLUMNS", "0"))
    except ValueError:
        found = 0
    if found > 0:
        return found
    try:
        return os.get_terminal_size(sys.__stdout__.fileno()).columns or 80  # type: ignore[union-attr]
    except (AttributeError, ValueError, OSError):
        return 80


def help_text() -> str | None:
    """The top-level help, or None where click would wrap it otherwise."""
    return HELP if columns() >= HELP_WIDTH else None

"""A vault for the web UI's tests, served by a real ``toolvault serve`` on 127.0.0.1: tools
with versions, references, a label, a yank, a deprecation, and a tool whose every
free-text field is hostile; tokens for an owner, a read-only reader and another principal."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

from toolvault import Vault
from toolvault.cli.served import ServerProcess

# What a hostile author puts in every field a page shows: each would run a script, or
# make a link that runs one, if a page let it through; and a line no layout can break.
SCRIPT = "<script>window.__xss = 'script'</script>"
IMG = '"><img src=x onerror="window.__xss = \'img\'">'
LINK = "javascript:window.__xss='link'//"
LONG = "W" * 4000
SHORT = f"{SCRIPT} {IMG} {LINK} " + "N" * 100  # for fields of at most 256 characters
HOSTILE = f"{SCRIPT} {IMG} {LINK} {LONG}"

FMT = [
    '#!/usr/bin/env python3\n"""Format CSV files as aligned tables.\n\nUsage: fmt FILE...\n"""\n'
    "import csv\nimport sys\n\nfor path in sys.argv[1:]:\n    rows = list(csv.reader(open(path)))\n"
    "    print('\\n'.join('  '.join(r) for r in rows))\n",
]
FMT.append(FMT[0].replace("'  '.join", "' | '.join").replace("list(csv", "tuple(csv"))
FMT.append(FMT[1] + "# the end\n")


@dataclass
class Site:
    """The daemon's URL, the vault's home and the tokens' secrets."""

    url: str
    home: Path
    owner: str  # alice: owns fmt, csvsum and the hostile tool
    reader: str  # read-only
    other: str  # bob: owns nothing
    daemon: ServerProcess


def build(home: Path) -> tuple[str, str, str]:
    """Fill a vault; return the tokens (owner, read-only reader, another principal)."""
    with Vault.open(home) as vault:
        for i, text in enumerate(FMT, 1):
            vault.publish("fmt", text, owner="alice", created_by="claude",
                          prompt=f"make fmt better, step {i}", message=f"fmt step {i}")  # fmt: skip
        fmt2 = vault.get("fmt:2").ref
        vault.publish("csvsum", "#!/bin/sh\n# csvsum: sum a CSV column.\nfmt \"$2\"\n",
                      owner="alice", references=(fmt2,), message="uses fmt")  # fmt: skip
        vault.label("fmt:2", "stable")
        vault.yank("fmt:1", "prints the wrong widths")
        hostile(vault, fmt2)
        vault.publish("oldtool", "#!/bin/sh\necho old\n", owner="alice")
        vault.set_lifecycle("oldtool", "deprecated", "use fmt instead")
        tokens = (
            vault.create_token("alice")[1],
            vault.create_token("reader", read_only=True)[1],
            vault.create_token("bob")[1],
        )
    return tokens


def hostile(vault: Vault, ref: str) -> None:
    """The tool ``evil``: every field a person reads holds HOSTILE."""
    for i in (1, 2):
        vault.publish(
            "evil",
            f"#!/bin/sh\n# {HOSTILE}\necho '{SCRIPT}' {i}\n",
            owner="alice", created_by=SHORT, prompt=HOSTILE, message=HOSTILE,
            description=HOSTILE[:1000], usage=HOSTILE, session_id=SHORT,
            origin=LINK, transforms=(SHORT,), references=(ref,),
        )  # fmt: skip
    vault.yank("evil:1", SHORT)
    vault.set_lifecycle("evil", "deprecated", HOSTILE)
    vault.publish("evil-owner", f"#!/bin/sh\necho '{IMG}'\n", owner=SHORT, created_by=SHORT)


def serve(home: Path, *flags: str) -> ServerProcess:
    """``toolvault serve --port 0`` on the vault in ``home``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOOLVAULT_")}
    argv = [sys.executable, "-m", "toolvault", "--home", str(home), "serve", "--port", "0"]
    return ServerProcess([*argv, *flags], env, 30.0)


def start(home: Path, *flags: str) -> Site:
    """A built vault and its daemon."""
    owner, reader, other = build(home)
    daemon = serve(home, *flags)
    return Site(daemon.url, home, owner, reader, other, daemon)

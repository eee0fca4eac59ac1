"""A relevance fixture for search (issue 13): 200 real-looking tools built from templates
— Python scripts with docstrings, shell scripts with comment headers, several versions,
prompts, messages, authors, references, descriptions, a deprecated twin per topic — and
queries with the top results a person would expect."""

from __future__ import annotations

from toolvault.service.publishing import NewVersion

NOUNS = (
    "csv", "json", "yaml", "git", "docker", "kube", "bucket", "postgres", "redis", "nginx",
    "certificate", "dns", "syslog", "backup", "image", "pdf", "markdown", "http", "ssh",
    "cron", "disk", "memory", "cpu", "socket", "zip", "tarball", "dotenv", "secret", "user",
    "branch", "commit", "release", "pytest", "eslint", "prettier", "deploy", "metric",
    "alert", "invoice", "email", "calendar", "video", "audio", "font", "icon", "sitemap",
    "cache", "queue", "locale", "timezone",
)  # fmt: skip
VERBS = ("summarise", "convert", "validate", "clean", "watch", "dump", "rotate", "inspect",
         "list", "sync")  # fmt: skip
AUTHORS = ("alice", "bob", "carol", "dave")

PY = '''#!/usr/bin/env python3
"""{Verb} {noun} files from the command line.

Usage: {noun}-{verb} [--dry-run] PATH...
"""
import argparse
import sys


def {verb}_{noun}(path, dry_run=False):
    with open(path, encoding="utf-8") as fh:
        return [line.rstrip() for line in fh]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("paths", nargs="+")
    parser.add_argument("--dry-run", action="store_true")
    args = parser.parse_args(argv)
    for path in args.paths:
        {verb}_{noun}(path, args.dry_run)
    return {n}


if __name__ == "__main__":
    sys.exit(main())
'''

SH = """#!/bin/sh
# A small helper around the team's {noun} setup.
# It prints what it would change and exits non-zero on error.
set -eu
for f in "$@"; do
    printf '%s\\n' "$f"
done
exit {n}
"""

UTIL = """#!/usr/bin/env python3
# Miscellaneous utility number {n}.
import os


def load_{noun}_records(folder):
    return sorted(os.listdir(folder))


print(len(load_{noun}_records(".")))
"""


def tools() -> tuple[list[NewVersion], list[str]]:
    """Every version to publish (in order), and the deprecated tools."""
    items: list[NewVersion] = []
    deprecated = []
    for i, noun in enumerate(NOUNS):
        verb = VERBS[i % len(VERBS)]
        kw = {"noun": noun, "verb": verb, "Verb": verb.capitalize(), "n": i}
        main, twin = f"{noun}-{verb}", f"{noun}-{verb}-legacy"
        author = AUTHORS[i % len(AUTHORS)]
        prompt = f"a tool to {verb} {noun} data"
        items.append(
            NewVersion(
                main,
                PY.format(**kw).replace("return [", "return ["),
                prompt=prompt,
                created_by=author,
                message="first cut",
            )
        )
        items.append(
            NewVersion(
                main,
                PY.format(**kw) + "# handles empty files\n",
                prompt=prompt,
                created_by=author,
                message="handle empty files",
                description=f"{verb.capitalize()}s {noun} data, one file at a time.",
            )
        )
        items.append(
            NewVersion(
                f"{noun}-tool-{i}",
                SH.format(**kw),
                created_by=author,
                message=f"{verb} some {noun} quickly",
            )
        )
        items.append(
            NewVersion(
                f"util-{i:03d}", UTIL.format(**kw), prompt="misc utility", created_by="robot"
            )
        )
        items.append(NewVersion(twin, PY.format(**kw), prompt=prompt, created_by=author))
        deprecated.append(twin)
    return items, deprecated


def queries() -> list[tuple[str, list[str]]]:
    """(query, the expected first results, best first)."""
    expected: list[tuple[str, list[str]]] = []
    for i, noun in enumerate(NOUNS):
        verb = VERBS[i % len(VERBS)]
        main, helper, util, twin = (f"{noun}-{verb}", f"{noun}-tool-{i}", f"util-{i:03d}",
                                    f"{noun}-{verb}-legacy")  # fmt: skip
        if i % 4 == 0:
            expected.append((main, [main, twin]))  # the exact name, then its deprecated twin
        if i % 4 == 1:
            expected.append((f"{noun} {verb}", [main, helper, twin]))  # name > message
        if i % 4 == 2:
            expected.append((f"load_{noun}_rec", [util]))  # inside an identifier
            expected.append((f'prompt:"{verb} {noun} data"', [main, twin]))
        if i % 4 == 3:
            expected.append((f"description:{noun}", [main]))
            expected.append((f"{noun} quickly", [helper]))
    return expected

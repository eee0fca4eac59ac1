"""The one reading of a shebang (``toolvault.shebang``) and what each user makes of it:
``context``'s fences, the web UI's lexer and the MCP resources' MIME type agree on which
interpreter a script names."""

from __future__ import annotations

import pytest

from toolvault import contextdoc, shebang
from toolvault.mcpserver.resources import mime_type
from toolvault.web.highlight import language

CASES = [
    ("#!/bin/sh\necho hi\n", "sh"),
    ("#!/usr/bin/env python3\n", "python3"),
    ("#!/usr/bin/env -S python3 -u\n", "python3"),
    ("#!/usr/bin/python3.12\n", "python3.12"),
    ("#! /bin/bash -eu\n", "bash"),
    ("#!/usr/bin/env\n", ""),
    ("#!\n", ""),
    ("echo no shebang\n", ""),
    ("", ""),
    ("  #!/bin/sh\n", ""),  # a shebang is the file's first two bytes
]


@pytest.mark.parametrize(("text", "program"), CASES)
def test_interpreter(text: str, program: str) -> None:
    assert shebang.interpreter(text) == program


def test_family_strips_a_version_only() -> None:
    assert shebang.family("python3.12") == "python"
    assert shebang.family("perl5") == "perl"
    assert shebang.family("node") == "node"
    assert shebang.family("3") == "3"  # nothing left: itself


def test_lookup_exact_name_before_family() -> None:
    table = {"python3": "py3", "python": "py"}
    assert shebang.lookup(table, "#!/usr/bin/python3\n") == "py3"
    assert shebang.lookup(table, "#!/usr/bin/python3.12\n") == "py"
    assert shebang.lookup(table, "#!/usr/bin/ruby\n", "none") == "none"
    assert shebang.lookup(table, "no shebang", "none") == "none"


@pytest.mark.parametrize(
    ("text", "fence", "lexer", "mime"),
    [
        ("#!/usr/bin/env python3.12\nprint(1)\n", "python", "python", "text/x-python"),
        ("#!/bin/bash\necho\n", "bash", "bash", "text/x-shellscript"),
        ("#!/usr/bin/env node\n", "javascript", "javascript", "text/javascript"),
        ("plain text\n", "", "text", "text/plain"),
    ],
)
def test_every_user_reads_the_same_interpreter(
    text: str, fence: str, lexer: str, mime: str
) -> None:
    assert contextdoc._language(text) == fence
    assert language("tool", text) == lexer
    assert mime_type(text) == mime


def test_the_same_content_under_two_names_is_highlighted_for_each() -> None:
    """The kept rows are per hash and name: a file without a shebang takes its lexer
    from its name, so ``x.py`` and ``x.sql`` holding the same text differ."""
    from toolvault.web.highlight import highlighted

    text = "select = 1  # from\n"
    sha = "0" * 63 + "a"
    as_python = highlighted(sha, "same.py", text)
    as_sql = highlighted(sha, "same.sql", text)
    assert as_python != as_sql
    assert highlighted(sha, "same.py", text) == as_python

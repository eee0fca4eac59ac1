"""toolvault: a versioned, tamper-evident registry for command-line tools.

>>> from toolvault import Vault, fetch_tool
>>> with Vault.open("/tmp/home") as vault:            # doctest: +SKIP
...     vault.publish("fmt", b"#!/bin/sh\\necho hi\\n")
...     fetch_tool(vault, "fmt").text
"""

from __future__ import annotations

from toolvault.errors import (
    Conflict,
    IntegrityError,
    InvalidInput,
    InvalidSpec,
    NotFound,
    PermissionDenied,
    SchemaTooNew,
    StoreError,
    TooLarge,
    ToolvaultError,
)
from toolvault.models import Diff, Problem, Published, Report, Tool, Version
from toolvault.spec import Spec, format_spec, parse
from toolvault.vault import NewVersion, Vault, fetch_tool

__version__ = "0.1.0"

__all__ = [
    "Conflict",
    "Diff",
    "IntegrityError",
    "InvalidInput",
    "InvalidSpec",
    "NewVersion",
    "NotFound",
    "PermissionDenied",
    "Problem",
    "Published",
    "Report",
    "SchemaTooNew",
    "Spec",
    "StoreError",
    "TooLarge",
    "Tool",
    "ToolvaultError",
    "Vault",
    "Version",
    "__version__",
    "fetch_tool",
    "format_spec",
    "parse",
]

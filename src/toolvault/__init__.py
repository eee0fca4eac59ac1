"""toolvault: a versioned, tamper-evident registry for command-line tools.

>>> from toolvault import Vault, fetch_tool
>>> with Vault.open("/tmp/home") as vault:            # doctest: +SKIP
...     vault.publish("fmt", b"#!/bin/sh\\necho hi\\n")
...     fetch_tool(vault, "fmt").text

The names below are imported on first use (PEP 562), so that ``import
toolvault`` — and the ``toolvault cat`` fast path — load nothing they do not need.
"""

from __future__ import annotations

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs startup time

__version__ = "0.1.0"

_EXPORTS = {
    "Conflict": "errors",
    "IntegrityError": "errors",
    "InvalidInput": "errors",
    "InvalidSpec": "errors",
    "NotFound": "errors",
    "PermissionDenied": "errors",
    "SchemaTooNew": "errors",
    "SourceError": "errors",
    "StoreError": "errors",
    "TooLarge": "errors",
    "ToolvaultError": "errors",
    "Diff": "models",
    "Problem": "models",
    "Published": "models",
    "Report": "models",
    "Tool": "models",
    "Version": "models",
    "Spec": "spec",
    "format_spec": "spec",
    "parse": "spec",
    "NewVersion": "vault",
    "Vault": "vault",
    "fetch_tool": "vault",
}

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
    "SourceError",
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


def __getattr__(name: str) -> object:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'toolvault' has no attribute {name!r}")
    import importlib  # here: every command imports toolvault, few of them these names

    value = getattr(importlib.import_module(f"toolvault.{module}"), name)
    globals()[name] = value
    return value


if TYPE_CHECKING:
    from toolvault.errors import (
        Conflict,
        IntegrityError,
        InvalidInput,
        InvalidSpec,
        NotFound,
        PermissionDenied,
        SchemaTooNew,
        SourceError,
        StoreError,
        TooLarge,
        ToolvaultError,
    )
    from toolvault.models import Diff, Problem, Published, Report, Tool, Version
    from toolvault.spec import Spec, format_spec, parse
    from toolvault.vault import NewVersion, Vault, fetch_tool

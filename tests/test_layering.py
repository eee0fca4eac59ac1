"""The core does not depend on the CLI, and the hot read path stays light."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

HEAVY = ("fastapi", "uvicorn", "psycopg", "rich", "cryptography", "starlette", "pydantic")


def loaded_modules(
    code: str, tmp_path: Path, env: dict[str, str] | None = None
) -> tuple[set[str], bytes]:
    """Run ``code`` in a fresh interpreter: the modules it ended with, and its stdout."""
    out = tmp_path / "modules.json"
    prologue = (
        "import atexit, json, sys\n"
        f"atexit.register(lambda: open({str(out)!r}, 'w').write(json.dumps(sorted(sys.modules))))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", prologue + code], env=env, capture_output=True, timeout=60
    )
    return set(json.loads(out.read_text())), proc.stdout


def top(modules: set[str]) -> set[str]:
    return {m.split(".")[0] for m in modules}


def test_the_core_never_imports_click(tmp_path: Path) -> None:
    modules = top(loaded_modules("import toolvault", tmp_path)[0])
    assert "toolvault" in modules
    assert "click" not in modules
    assert not modules & set(HEAVY)


def test_cat_loads_no_heavy_library(tmp_path: Path) -> None:
    import os

    home = tmp_path / "home"
    env = {**os.environ, "TOOLVAULT_HOME": str(home)}
    src = tmp_path / "fmt.sh"
    src.write_text("#!/bin/sh\necho fmt\n")
    subprocess.run(
        [sys.executable, "-m", "toolvault.cli", "add", str(src)], env=env, check=True, timeout=60
    )
    code = (
        "import sys; sys.argv = ['toolvault', 'cat', 'fmt:1']\n"
        "from toolvault.cli import main\nmain()"
    )
    found, stdout = loaded_modules(code, tmp_path, env)
    modules = top(found)
    assert stdout == b"#!/bin/sh\necho fmt\n"  # the command really ran
    assert not modules & set(HEAVY), modules & set(HEAVY)
    assert "difflib" not in modules  # only diff needs it


def test_every_extra_installs_something() -> None:
    """An extra is a promise: ``pip install 'toolvault[x]'`` must bring what x needs,
    so none stands empty as a placeholder for code that does not exist yet."""
    import tomllib

    pyproject = Path(__file__).resolve().parents[1] / "pyproject.toml"
    extras = tomllib.loads(pyproject.read_text())["project"]["optional-dependencies"]
    assert {name for name, needs in extras.items() if not needs} == set()

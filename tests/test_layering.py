"""The core does not depend on the CLI, and the hot read path stays light."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

HEAVY = ("fastapi", "uvicorn", "psycopg", "rich", "cryptography", "starlette", "pydantic")
HEAVY += ("jinja2", "pygments", "graphviz", "markupsafe")  # the web UI's, in the daemon only


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


# -- sources/: the importers -----------------------------------------------------------------

SRC = Path(__file__).resolve().parents[1] / "src" / "toolvault"
FRONT_ENDS = ("toolvault.cli", "toolvault.server", "click", "fastapi", "starlette", "uvicorn")
# The core modules that import sources/ at all, each inside the one function that needs
# it (never at module level), and why: anything new here is a layering decision.
LAZY_SOURCES = {
    "config.py": "sources.urls: the [sources] allow list's prefix match, the download deadline",
}


def imported(node: ast.AST, module: str) -> list[str]:
    """The absolute module names an import statement brings in (``from X import y`` is
    ``X.y``, which also names a submodule)."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    if isinstance(node, ast.ImportFrom):
        base = node.module or ""
        if node.level:  # relative: resolved against the importing module's package
            parts = module.split(".")[: -node.level]
            base = ".".join([*parts, base] if base else parts)
        return [base] + [f"{base}.{a.name}" for a in node.names]
    return []


def under(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def modules(folder: Path) -> dict[str, ast.Module]:
    """Every module of ``folder`` (recursively) by dotted name, parsed."""
    found = {}
    for path in sorted(folder.rglob("*.py")):
        dotted = ".".join(path.relative_to(SRC.parent).with_suffix("").parts)
        found[dotted.removesuffix(".__init__")] = ast.parse(path.read_text(), str(path))
    return found


def test_sources_never_import_a_front_end() -> None:
    """Importers are core: the CLI and the daemon call them, never the other way round
    (anywhere in a module, in a function too)."""
    found = modules(SRC / "sources")
    assert {"toolvault.sources.packs", "toolvault.sources.legacy.port42"} <= set(found)
    wrong = [
        f"{name} imports {what}"
        for name, tree in found.items()
        for node in ast.walk(tree)
        for what in imported(node, name)
        if under(what, FRONT_ENDS)
    ]
    assert wrong == []


def test_importers_write_only_through_the_service() -> None:
    """No importer (nor the rebuild from the tree) touches ``vault.store``: each writes
    through the service's methods (``service/imports.py``) in ``vault.transaction()``,
    and imports nothing of the store but its time format."""
    found = modules(SRC / "sources")
    found["toolvault.recovery"] = ast.parse((SRC / "recovery.py").read_text())
    reaching = [
        f"{name}:{node.lineno} .store"
        for name, tree in found.items()
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute) and node.attr == "store"
    ]
    assert reaching == []
    from_store = {
        (name, what)
        for name, tree in found.items()
        if name.startswith("toolvault.sources")
        for node in ast.walk(tree)
        for what in imported(node, name)
        if under(what, ("toolvault.store",))
    }
    assert {what for _, what in from_store} <= {
        "toolvault.store.base",
        "toolvault.store.base.utcnow",
    }


def test_the_core_imports_sources_only_where_it_must(tmp_path: Path) -> None:
    """The core (everything but the front ends and sources/ itself) imports sources/
    only inside functions, and only where :data:`LAZY_SOURCES` says why; importing every
    core module loads none of sources/."""
    core = {
        name: tree
        for name, tree in modules(SRC).items()
        if not under(name, ("toolvault.cli", "toolvault.server", "toolvault.sources"))
    }
    users = {
        name
        for name, tree in core.items()
        for node in ast.walk(tree)
        for what in imported(node, name)
        if under(what, ("toolvault.sources",))
    }
    assert users == {f"toolvault.{m.removesuffix('.py')}" for m in LAZY_SOURCES}
    code = "\n".join(f"import {name}" for name in sorted(core) if name != "toolvault.__main__")
    loaded, _ = loaded_modules(code, tmp_path)
    assert "toolvault.service.imports" in loaded  # the core really was imported
    assert not {m for m in loaded if under(m, ("toolvault.sources",))}


# -- the core's shape: no cycle, verify below the service, modules and functions small -------

MAX_MODULE_LINES = 600
MAX_FUNCTION_LINES = 60
# Modules and functions allowed past those limits, each with why a split would only scatter
# one idea (said in the module's docstring too). Empty: nothing needs it today.
TOO_BIG_ON_PURPOSE: dict[str, str] = {}


def module_level_imports(tree: ast.Module, module: str, known: set[str]) -> set[str]:
    """The toolvault modules ``module`` imports when it is imported, and those it imports
    for its types (``if TYPE_CHECKING:``): every import but those inside functions.
    ``from X import y`` names X.y when that is a module, else X."""
    found: set[str] = set()
    pending: list[ast.AST] = list(tree.body)
    while pending:
        node = pending.pop()
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue  # imported when called: how the core stays light, not a dependency cycle
        if isinstance(node, ast.Import):
            found.update(n for n in imported(node, module) if n in known)
            continue
        if isinstance(node, ast.ImportFrom):
            base, *names = imported(node, module)
            subs = [n for n in names if n in known]
            found.update(subs or ([base] if base in known else []))
            continue
        pending.extend(ast.iter_child_nodes(node))
    found.discard(module)
    return found


def first_cycle(graph: dict[str, set[str]]) -> list[str]:
    """One cycle of ``graph`` as the path that closes it (empty: there is none)."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        path.pop()
        state[node] = 2
        return []

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return []


def import_graph() -> dict[str, set[str]]:
    found = modules(SRC)
    return {name: module_level_imports(tree, name, set(found)) for name, tree in found.items()}


def test_no_import_cycle_among_toolvaults_modules() -> None:
    """Dependencies go one way (STYLE.md): no module imports, at module level or for its
    types, a module that imports it back, however long the way round. (A module that
    takes the service as an argument names its shape in a Protocol instead.)"""
    graph = import_graph()
    assert {"toolvault.vault", "toolvault.lineage", "toolvault.verify.part_check"} <= set(graph)
    assert "toolvault.service.base" in graph["toolvault.service.reads"]  # edges are found
    assert first_cycle(graph) == []


def test_the_cycle_finder_finds_a_long_way_round() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set()}
    assert first_cycle(graph) == ["a", "b", "c", "a"]
    assert first_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) == []


def test_verify_never_imports_a_front_end_or_the_service() -> None:
    """verify's checks sit below the service, which calls them (anywhere in a module,
    inside a function too)."""
    found = modules(SRC / "verify")
    assert {"toolvault.verify.checks", "toolvault.verify.sharing"} <= set(found)
    above = (*FRONT_ENDS, "toolvault.vault", "toolvault.service", "toolvault.sources")
    wrong = [
        f"{name} imports {what}"
        for name, tree in found.items()
        for node in ast.walk(tree)
        for what in imported(node, name)
        if under(what, above)
    ]
    assert wrong == []


def test_importing_the_service_loads_none_of_its_heavy_parts(tmp_path: Path) -> None:
    """``import toolvault.vault`` (what every command pays for) loads no check of verify,
    no signing, no checkpoint, pack, git or server code: the methods that need them
    import them."""
    loaded, _ = loaded_modules("import toolvault.vault", tmp_path)
    assert "toolvault.vault" in loaded
    heavy = ("toolvault.verify", "toolvault.signing", "toolvault.checkpoints")
    heavy += ("toolvault.sources", "toolvault.server", "toolvault.cli", "cryptography")
    heavy += ("toolvault.events.model", "toolvault.events.policy", "toolvault.events.send")
    heavy += ("toolvault.mcpserver", "toolvault.web", "toolvault.sandbox", "toolvault.lockfile")
    heavy += ("secrets", "hmac", "mcp", "jinja2")
    assert sorted(m for m in loaded if under(m, heavy)) == []


def test_no_module_over_600_lines_and_no_function_over_60() -> None:
    """Under src/, a module is at most MAX_MODULE_LINES lines and a function (from its
    ``def`` to its last line; a click command's option decorators are declarations, not
    its body) at most MAX_FUNCTION_LINES, but where TOO_BIG_ON_PURPOSE says why."""
    too_big = []
    for path in sorted(SRC.rglob("*.py")):
        where = str(path.relative_to(SRC.parent))
        text = path.read_text()
        if len(text.splitlines()) > MAX_MODULE_LINES and where not in TOO_BIG_ON_PURPOSE:
            too_big.append(f"{where}: {len(text.splitlines())} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = (node.end_lineno or node.lineno) - node.lineno + 1
                key = f"{where}:{node.name}"
                if lines > MAX_FUNCTION_LINES and key not in TOO_BIG_ON_PURPOSE:
                    too_big.append(f"{key} (line {node.lineno}): {lines} lines")
    assert too_big == []

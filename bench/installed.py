"""An installed (non-editable) toolvault for the start-up benchmarks.

An editable install runs toolvault from ``src/`` through an import hook, and its
bytecode may not be cached; a user's ``pip install toolvault`` gets a wheel with
compiled bytecode. So start-up is measured on a wheel of the checkout, built without
the network (``pip wheel --no-build-isolation --no-index``: the virtual environment's
own setuptools) and installed into a fresh virtual environment in the run's temporary
folder. Its dependencies are the running environment's: a ``.pth`` file puts that
environment's ``site-packages`` after the new one's (its own ``.pth`` files, among
them the editable install's, are not read through it). Nothing is written to the
checkout: the wheel is built from a copy.
"""

from __future__ import annotations

import shutil
import site
import subprocess
import sys
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parents[1]
COPIED = ("pyproject.toml", "README.md", "src")


def install(tmp: Path, source: Path = CHECKOUT) -> Path:
    """Build a wheel of ``source`` and install it into ``tmp/installed``; returns the
    environment's ``bin`` folder. Raises RuntimeError saying what failed."""
    copy = tmp / "wheel-source"
    for name in COPIED:
        if (source / name).is_dir():
            ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
            shutil.copytree(source / name, copy / name, ignore=ignore)
        else:
            copy.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source / name, copy / name)
    pip = [sys.executable, "-m", "pip"]
    wheel_dir = tmp / "wheel"
    build = ["wheel", "--no-build-isolation", "--no-deps", "--no-index", "-q", "-w"]
    _run([*pip, *build, str(wheel_dir), str(copy)], "building the wheel")
    env = tmp / "installed"
    _run([sys.executable, "-m", "venv", "--without-pip", str(env)], "making the venv")
    python = env / "bin" / "python"
    where = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    Path(where, "toolvault-bench-deps.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    wheel = next((tmp / "wheel").glob("toolvault-*.whl"))
    _run(
        [*pip, "--python", str(python), "install", "--no-deps", "--no-index", "-q", str(wheel)],
        "installing the wheel",
    )
    _check(python, Path(where))
    return env / "bin"


def _check(python: Path, site_packages: Path) -> None:
    """The installed copy, not the checkout's src/, is what ``import toolvault`` finds."""
    found = subprocess.run(
        [str(python), "-c", "import toolvault; print(toolvault.__file__)"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    if not found.startswith(str(site_packages)):
        raise RuntimeError(f"the installed toolvault imports from {found or 'nowhere'}")


def _run(argv: list[str], what: str) -> None:
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["(no stderr)"])[-1]
        raise RuntimeError(f"{what} failed: {last}")

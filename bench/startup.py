"""Start-up of every read command on an installed toolvault, next to the floor.

The floor is ``bench/read_path.py``'s: the same interpreter runs a script that imports
``sqlite3``, makes one select and writes the row. Each round runs the floor and then
every command once, so that drift on a loaded machine hits them alike; the medians are
compared. The vault is small (a few tools, with a message, a reference, a label and a
yank), so that what is measured is start-up, not output.

Run alone for just these figures (``read_path.py`` runs it too):

    .venv/bin/python bench/startup.py [--runs N] [--source DIR]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

import benchlib
import installed

# name -> the arguments after ``toolvault``; NAME is the tool every command reads.
COMMANDS = {
    "ls": ["ls"],
    "show": ["show", "fmt"],
    "versions": ["versions", "fmt"],
    "diff": ["diff", "fmt"],
    "refs": ["refs", "fmt"],
    "context": ["context", "fmt"],
    "status": ["status"],
    "--version": ["--version"],
    "--help": ["--help"],
    "cat": ["cat", "fmt"],
}
WARMUP_ROUNDS = 2


def build_home(exe: Path, home: Path, tmp: Path) -> None:
    """A small vault made with the installed toolvault itself."""
    env = benchlib.child_env(tmp, TOOLVAULT_HOME=str(home))
    src = tmp / "startup-src"
    src.mkdir()
    steps: list[list[str]] = [["init"]]
    for i in range(1, 6):
        name = "fmt" if i <= 3 else f"tool{i}"
        (src / f"{name}.{i}").write_bytes(benchlib.small_tool("startup", name, i))
        steps.append(["add", str(src / f"{name}.{i}"), "--name", name, "-m", f"change {i}"])
    steps += [["add", str(src / "tool4.4"), "--name", "user", "--ref", "fmt:2"]]
    steps += [["label", "fmt:2", "stable"], ["yank", "tool5:1", "--reason", "broken"]]
    steps += [["add", str(src / "fmt.3"), "--name", "fmt", "--ref", "user", "-m", "ref"]]
    for step in steps:
        benchlib.run_timed([str(exe), *step], env)


def measure(bin_dir: Path, home: Path, floor: Path, tmp: Path, runs: int) -> dict[str, list[int]]:
    """Wall nanoseconds of every command and of the floor, ``runs`` rounds each."""
    exe, python = bin_dir / "toolvault", bin_dir / "python"
    env = benchlib.child_env(tmp, TOOLVAULT_HOME=str(home))
    argvs = {"floor": [str(python), str(floor), str(home / "vault.db"), "fmt"]}
    argvs |= {key: [str(exe), *words] for key, words in COMMANDS.items()}
    samples: dict[str, list[int]] = {key: [] for key in argvs}
    for i in range(runs + WARMUP_ROUNDS):
        for key, argv in argvs.items():
            elapsed, _ = benchlib.run_timed(argv, env, key)
            if i >= WARMUP_ROUNDS:  # the first rounds fill the OS and bytecode caches
                samples[key].append(elapsed)
    return samples


def run(
    tmp: Path, floor_text: str, runs: int, source: Path = installed.CHECKOUT
) -> dict[str, list[int]]:
    """Install ``source``, build the small vault, measure."""
    benchlib.progress(f"installing a wheel of {source} into a fresh virtual environment")
    bin_dir = installed.install(tmp, source)
    home = tmp / "startup-home"
    build_home(bin_dir / "toolvault", home, tmp)
    floor = tmp / "startup-floor.py"
    floor.write_text(floor_text)
    benchlib.progress(f"start-up of {len(COMMANDS)} commands vs the floor, {runs} rounds")
    return measure(bin_dir, home, floor, tmp, runs)


def main() -> int:
    """Print each command's median and its ratio to the floor's."""
    import read_path

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30, help="rounds measured (default 30)")
    parser.add_argument("--source", type=Path, default=installed.CHECKOUT, help="checkout")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="toolvault-startup-") as tmp:
        found = run(Path(tmp), read_path.FLOOR, args.runs, args.source)
    floor = statistics.median(found["floor"])
    for key, values in found.items():
        median = statistics.median(values)
        print(f"{key:<10} {median / 1e6:7.1f} ms  {median / floor:5.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())

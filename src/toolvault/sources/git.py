"""Tools from a git repository, through the ``git`` command (SPEC §7, ``ingest --git``).

The repository is cloned bare into a temporary folder. The tool files are the
regular files at REV (under PATH); each is named by its file name without
extension. Their history comes from one ``git log --raw -z`` pass over the
first-parent chain up to REV, following renames, and their contents from one
``git cat-file --batch`` process, so a history of thousands of commits costs
a handful of git processes, not one per file per commit.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from types import TracebackType
from urllib.parse import urlsplit, urlunsplit

from toolvault import spec as specs
from toolvault.config import DEFAULT_MAX_SIZE
from toolvault.errors import InvalidInput, NotFound, SourceError
from toolvault.vault import NewVersion

TIMEOUT = 600.0
REGULAR = {"100644": False, "100755": True}  # mode -> executable
# Variables that would point git at another repository than our clone (a hook's GIT_DIR…).
REPO_VARS = (
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_COMMON_DIR",
    "GIT_NAMESPACE",
    "GIT_CEILING_DIRECTORIES",
)
TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.000000Z"
LOG_FORMAT = "--format=%x01%H%x00%an <%ae>%x00%at%x00%s"
NO_GIT = "git is not installed; install it (apt-get install git) to use --git"


@dataclass(frozen=True, slots=True)
class GitImport:
    """What a repository yields: versions in publish order, files skipped and why, REV."""

    versions: list[NewVersion]
    skipped: list[str]
    commit: str


@dataclass(frozen=True, slots=True)
class Commit:
    """The metadata of one commit that a version takes."""

    sha: str
    author: str
    time: int
    subject: str

    @property
    def created_at(self) -> str:
        """The author date in the vault's timestamp format."""
        return datetime.fromtimestamp(self.time, UTC).strftime(TIME_FORMAT)


@dataclass(frozen=True, slots=True)
class Change:
    """A file's state after ``commit``: its path, mode and blob at that commit."""

    commit: Commit
    path: str
    mode: str
    blob: str


@dataclass(frozen=True, slots=True)
class ToolFile:
    """A tool file at REV."""

    name: str
    path: str
    mode: str
    blob: str
    size: int


@dataclass(slots=True)
class Candidates:
    """The tool files found at REV and the files passed over, with the reason."""

    tools: list[ToolFile] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def git_versions(
    url: str,
    *,
    rev: str | None = None,
    path: str | None = None,
    history: bool = False,
    max_size: int = DEFAULT_MAX_SIZE,
    timeout: float = TIMEOUT,
) -> GitImport:
    """The tool versions of the git repository at ``url`` (a URL or a local path).

    Without ``history``: one version per tool file at ``rev`` (default HEAD).
    With it: one per commit that changed the file's content, oldest first.
    ``path`` limits the tool files to a subdirectory. Each git call is bounded
    by ``timeout`` seconds.
    """
    subdir = clean_subdir(path)
    with tempfile.TemporaryDirectory(prefix="toolvault-git-") as tmp:
        repo = Repo(Path(tmp) / "clone.git", timeout)
        repo.clone(url)
        commit = repo.resolve(rev or "HEAD", url)
        with repo.blobs() as blobs:
            found = _candidates(repo.ls_tree(commit, subdir, url), blobs, commit, max_size)
            _refuse_same_names(found.tools)
            chains = _chains(repo.log(commit), {t.path for t in found.tools})
            versions = [
                version
                for tool in sorted(found.tools, key=lambda t: t.name)
                for version in _versions(tool, chains[tool.path], url, blobs, history, max_size)
            ]
    return GitImport(versions, found.skipped, commit)


def clean_subdir(path: str | None) -> str:
    """``path`` as a relative directory in the repository ("" for the whole tree)."""
    if path is None:
        return ""
    parts = [part for part in path.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise InvalidInput(f"--path {path!r} has a '..' component; give a folder of the repository")
    return "/".join(parts)


# -- running git -------------------------------------------------------------------------------


class Repo:
    """A bare clone in a temporary folder and the git commands run against it."""

    def __init__(self, gitdir: Path, timeout: float) -> None:
        binary = shutil.which("git")
        if binary is None:
            raise SourceError(NO_GIT)
        self.git = binary
        self.gitdir = gitdir
        self.timeout = timeout

    def clone(self, url: str) -> None:
        """Clone ``url`` bare, with the user's git configuration (credentials, proxies)."""
        # ext:: URLs would run a command of the URL's choosing.
        args = ["-c", "protocol.file.allow=always", "-c", "protocol.ext.allow=never"]
        args += ["clone", "--quiet", "--bare", "--"]
        proc = self.run([*args, url, str(self.gitdir)], local=False)
        if proc.returncode != 0:
            raise SourceError(f"git clone of {public_url(url)} failed: {_last_line(proc.stderr)}")

    def resolve(self, rev: str, url: str) -> str:
        """The full commit id ``rev`` names, or :class:`NotFound`."""
        proc = self.run(
            ["rev-parse", "--verify", "--quiet", "--end-of-options", f"{rev}^{{commit}}"]
        )
        if proc.returncode != 0 and rev == "HEAD":
            raise NotFound(f"{public_url(url)} has no commits yet; there is nothing to import")
        if proc.returncode != 0:
            raise NotFound(
                f"{public_url(url)} has no commit {rev!r}; give a branch, tag or commit "
                "that exists there"
            )
        return proc.stdout.decode().strip()

    def ls_tree(self, commit: str, subdir: str, url: str) -> list[tuple[str, str, str, int]]:
        """Every file at ``commit`` under ``subdir`` as (path, mode, blob, size)."""
        out = self.checked(["ls-tree", "-r", "-l", "-z", commit])
        entries = [_tree_entry(line) for line in out.split(b"\0") if line]
        if subdir:
            entries = [e for e in entries if e[0].startswith(subdir + "/")]
            if not entries:
                raise NotFound(
                    f"{public_url(url)} has no folder {subdir!r} at commit {commit[:12]}; "
                    "give --path a folder that holds the tools"
                )
        return entries

    def log(self, commit: str) -> Iterator[tuple[Commit, list[tuple[str, ...]]]]:
        """The first-parent history up to ``commit``, oldest first, with raw changes."""
        args = ["log", "--reverse", "--first-parent", "--diff-merges=first-parent", "-M"]
        args += ["--raw", "--no-abbrev", "-z", "--root", "--no-color", LOG_FORMAT, commit, "--"]
        return parse_log(self.checked(args))

    def blobs(self) -> Blobs:
        """One ``git cat-file --batch`` process for every content this import reads."""
        return Blobs(self)

    def checked(self, args: list[str]) -> bytes:
        """Run a git command on the clone; its stdout, or :class:`SourceError`."""
        proc = self.run(args)
        if proc.returncode != 0:
            raise SourceError(f"git {args[0]} failed: {_last_line(proc.stderr)}")
        return proc.stdout

    def run(self, args: list[str], *, local: bool = True) -> subprocess.CompletedProcess[bytes]:
        """Run git with a timeout; ``local`` commands see the clone and no user config."""
        command = [self.git, *(["--git-dir", str(self.gitdir)] if local else []), *args]
        try:
            return subprocess.run(
                command,
                env=git_env(local),
                capture_output=True,
                stdin=subprocess.DEVNULL,
                timeout=self.timeout,
            )
        except FileNotFoundError as exc:
            raise SourceError(NO_GIT) from exc
        except subprocess.TimeoutExpired as exc:
            raise SourceError(
                f"git {'clone' if not local else args[0]} took more than {self.timeout:g} s; "
                "check the repository URL and network, or retry"
            ) from exc

    def popen(self, args: list[str]) -> subprocess.Popen[bytes]:
        """Start a long-running git command on the clone with pipes."""
        command = [self.git, "--git-dir", str(self.gitdir), *args]
        try:
            return subprocess.Popen(
                command,
                env=git_env(True),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
            )
        except FileNotFoundError as exc:
            raise SourceError(NO_GIT) from exc


def git_env(local: bool) -> dict[str, str]:
    """The environment of a git process: never prompting, never seeing another repository.

    Commands on the clone also ignore the user's git configuration, whose settings
    (``log.showSignature``, ``color.ui``, ``diff.relative``…) would change the output
    parsed here.
    """
    env = {k: v for k, v in os.environ.items() if k not in REPO_VARS}
    env["GIT_TERMINAL_PROMPT"] = "0"
    if local:
        env["GIT_CONFIG_NOSYSTEM"] = "1"
        env["GIT_CONFIG_GLOBAL"] = os.devnull
    return env


class Blobs:
    """Contents by blob id through one ``git cat-file --batch`` process.

    Requests are written one at a time and each answer read before the next, so
    neither side can fill a pipe and wait for the other. A timer kills the
    process if the whole import runs past the timeout. Contents are kept, since
    the same one is often asked for twice (checked at REV, then published).
    """

    def __init__(self, repo: Repo) -> None:
        self.proc = repo.popen(["cat-file", "--batch"])
        self.timeout = repo.timeout
        self.cache: dict[str, bytes] = {}
        self.watchdog = threading.Timer(repo.timeout, self.proc.kill)
        self.watchdog.start()

    def __enter__(self) -> Blobs:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.watchdog.cancel()
        self.proc.kill()
        self.proc.wait()
        for pipe in (self.proc.stdin, self.proc.stdout):
            if pipe is not None:
                pipe.close()

    def read(self, blob: str, max_size: int, what: str) -> bytes:
        """The content of ``blob``; ``what`` names the file and commit in errors."""
        if blob not in self.cache:
            self.cache[blob] = self._fetch(blob, max_size, what)
        return self.cache[blob]

    def _fetch(self, blob: str, max_size: int, what: str) -> bytes:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        try:
            self.proc.stdin.write(blob.encode() + b"\n")
            self.proc.stdin.flush()
            header = self.proc.stdout.readline().split()
        except OSError as exc:
            raise self._broken() from exc
        if len(header) != 3 or header[1] != b"blob":
            raise self._broken() if not header else SourceError(f"git has no content for {what}")
        size = int(header[2])
        if size > max_size:
            raise InvalidInput(
                f"{what} is {size:,} bytes, over the tool size limit of {max_size:,}; "
                "raise max_tool_size in config.toml"
            )
        data = self.proc.stdout.read(size + 1)
        if len(data) != size + 1:
            raise self._broken()
        return data[:-1]

    def _broken(self) -> SourceError:
        return SourceError(
            f"git cat-file stopped answering (over {self.timeout:g} s, or it failed); retry"
        )


# -- parsing -----------------------------------------------------------------------------------


def parse_log(out: bytes) -> Iterator[tuple[Commit, list[tuple[str, ...]]]]:
    """Commits and their raw changes from ``git log --raw -z`` with :data:`LOG_FORMAT`.

    Each change is (status letter, new mode, new blob, path…) with two paths for a
    rename. Fields are read by position, so any byte in a subject or a path is safe.
    """
    tokens = out.split(b"\0")
    at = 0
    while at + 3 < len(tokens):
        sha = tokens[at].lstrip(b"\n")
        if not sha.startswith(b"\x01"):
            raise SourceError(f"unexpected git log output near {sha[:40]!r}")
        author, time, subject = (_text(t) for t in tokens[at + 1 : at + 4])
        commit = Commit(_text(sha[1:]), author, int(time), subject)
        at += 4
        changes: list[tuple[str, ...]] = []
        while at < len(tokens) and tokens[at].lstrip(b"\n").startswith(b":"):
            meta = _text(tokens[at].lstrip(b"\n")).split()  # :old new oldblob newblob status
            status = meta[4][0]
            count = 2 if status in "RC" else 1
            paths = [_text(t) for t in tokens[at + 1 : at + 1 + count]]
            changes.append((status, meta[1], meta[3], *paths))
            at += 1 + count
        yield commit, changes


def _tree_entry(line: bytes) -> tuple[str, str, str, int]:
    """(path, mode, blob, size) from one ``ls-tree -r -l -z`` entry."""
    meta, _, path = line.partition(b"\t")
    mode, _kind, blob, size = meta.split()
    return _text(path), mode.decode(), blob.decode(), int(size) if size.isdigit() else 0


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", errors="replace")


def _last_line(stderr: bytes) -> str:
    lines = [line for line in _text(stderr).splitlines() if line.strip()]
    return lines[-1].strip() if lines else "no error message from git"


def public_url(url: str) -> str:
    """``url`` without a user name or password, for messages and origins."""
    parts = urlsplit(url)
    if "@" not in parts.netloc or not parts.scheme:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))


# -- choosing tools and versions ---------------------------------------------------------------


def _candidates(
    entries: list[tuple[str, str, str, int]], blobs: Blobs, commit: str, max_size: int
) -> Candidates:
    """The tool files among ``entries``; links, submodules, bad names and binaries are skipped."""
    found = Candidates()
    for path, mode, blob, size in entries:
        reason = _skip_reason(path, mode)
        if reason is None and size <= max_size:
            content = blobs.read(blob, max_size, f"{path} at commit {commit[:12]}")
            reason = None if _is_text(content) else "not UTF-8 text (tools are text files)"
        elif reason is None:
            raise InvalidInput(
                f"{path} at commit {commit[:12]} is {size:,} bytes, over the tool size limit "
                f"of {max_size:,}; raise max_tool_size in config.toml or use --path"
            )
        if reason:
            found.skipped.append(f"{path}: {reason}")
        else:
            found.tools.append(ToolFile(tool_name(path), path, mode, blob, size))
    return found


def tool_name(path: str) -> str:
    """The tool a file becomes: its file name without extension."""
    return PurePosixPath(path).stem


def _skip_reason(path: str, mode: str) -> str | None:
    if mode == "120000":
        return "a symbolic link"
    if mode == "160000":
        return "a submodule"
    if mode not in REGULAR:
        return f"not a regular file (mode {mode})"
    try:
        specs.validate_name(tool_name(path))
    except InvalidInput as exc:
        return str(exc)
    return None


def _is_text(content: bytes) -> bool:
    if b"\0" in content:
        return False
    try:
        content.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _refuse_same_names(tools: list[ToolFile]) -> None:
    seen: dict[str, str] = {}
    for tool in tools:
        if tool.name in seen:
            raise InvalidInput(
                f"{seen[tool.name]} and {tool.path} would both be tool {tool.name!r}; "
                "use --path to import one folder, or rename one of them"
            )
        seen[tool.name] = tool.path


def _chains(
    log: Iterator[tuple[Commit, list[tuple[str, ...]]]], wanted: set[str]
) -> dict[str, list[Change]]:
    """For each path at REV, the changes of its file oldest first, across renames.

    A file deleted and later added again at the same path continues its chain.
    """
    live: dict[str, list[Change]] = {}
    gone: dict[str, list[Change]] = {}
    for commit, changes in log:
        moved = {c[3]: live.pop(c[3], []) for c in changes if c[0] in "RD"}
        for status, mode, blob, *paths in changes:
            if status == "D":
                gone[paths[0]] = moved[paths[0]]
                continue
            target = paths[-1]
            if status == "R":
                chain = moved[paths[0]]
            else:
                chain = live.pop(target, []) or gone.pop(target, [])
            chain.append(Change(commit, target, mode, blob))
            live[target] = chain
    return {path: live.get(path, []) for path in wanted}


def _versions(
    tool: ToolFile, chain: list[Change], url: str, blobs: Blobs, history: bool, max_size: int
) -> list[NewVersion]:
    """The tool's versions: each content change (only the last without ``history``)."""
    kept: list[tuple[Change, bool]] = []
    for change in chain:
        if change.mode not in REGULAR:
            continue
        if kept and kept[-1][0].blob == change.blob:
            # Same content (a mode change, a rename): no version, but the mode counts.
            kept[-1] = (kept[-1][0], REGULAR[change.mode])
            continue
        kept.append((change, REGULAR[change.mode]))
    if not kept or kept[-1][0].blob != tool.blob:
        raise SourceError(f"the history of {tool.path} does not end at its content; report this")
    chosen = kept if history else kept[-1:]
    return [_new_version(tool.name, change, x, url, blobs, max_size) for change, x in chosen]


def _new_version(
    name: str, change: Change, executable: bool, url: str, blobs: Blobs, max_size: int
) -> NewVersion:
    commit = change.commit
    where = f"{change.path} at commit {commit.sha[:12]}"
    return NewVersion(
        name,
        blobs.read(change.blob, max_size, where),
        executable=executable,
        source=f"{where} of {public_url(url)}",
        origin=f"git+{public_url(url)}@{commit.sha}:{change.path}",
        created_by=commit.author,
        created_at=commit.created_at,
        message=commit.subject or None,
    )

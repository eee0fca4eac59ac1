"""Reading .tar.gz packs in memory: good archives round-trip, malicious ones are refused."""

from __future__ import annotations

import gzip
import io
import random
import tarfile

import pytest

from toolvault.errors import InvalidInput
from toolvault.sources import archive
from toolvault.sources.archive import Limits, Member, is_gzip, read_tar_gz

MiB = 2**20


def info(name: str, kind: bytes = tarfile.REGTYPE, **fields: object) -> tarfile.TarInfo:
    member = tarfile.TarInfo(name)
    member.type = kind
    for key, value in fields.items():
        setattr(member, key, value)
    return member


def tar_gz(*members: tuple[tarfile.TarInfo, bytes]) -> bytes:
    """A .tar.gz holding ``members`` exactly as given (no checks, links and devices too)."""
    buf = io.BytesIO()
    with (
        gzip.GzipFile(fileobj=buf, mode="wb", mtime=0) as gz,
        tarfile.open(fileobj=gz, mode="w|", format=tarfile.PAX_FORMAT) as tar,
    ):
        for member, data in members:
            if member.isreg():
                member.size = len(data)
            tar.addfile(member, io.BytesIO(data) if member.isreg() else None)
    return buf.getvalue()


def file(name: str, data: bytes = b"echo hi\n", mode: int = 0o644) -> tuple[tarfile.TarInfo, bytes]:
    return info(name, mode=mode), data


def zeros_tar_gz(size: int) -> bytes:
    """One member of ``size`` zero bytes, gzipped as it is written (never whole in memory)."""
    buf = io.BytesIO()
    chunk = bytes(MiB)
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0) as gz:
        gz.write(info("zeros", size=size).tobuf(format=tarfile.PAX_FORMAT))
        for start in range(0, size, MiB):
            gz.write(chunk[: min(MiB, size - start)])
        gz.write(bytes(-size % 512 + 1024))  # padding, then the two end-of-archive blocks
    return buf.getvalue()


def refused(data: bytes, limits: Limits | None = None) -> str:
    with pytest.raises(InvalidInput) as excinfo:
        read_tar_gz(data, limits or Limits(), source="evil.tar.gz")
    assert excinfo.value.exit_code == 2
    return str(excinfo.value)


def test_a_good_archive_round_trips_paths_bytes_and_modes() -> None:
    data = tar_gz(
        (info("./tools", tarfile.DIRTYPE, mode=0o755), b""),
        file("./toolpack.json", b'{"format": 1}\n'),
        file("tools/fmt/1", b"#!/bin/sh\necho fmt\n", 0o755),
        file("tools/fmt/2", "é ünïcode\n".encode(), 0o644),
        file("tools//lint/./1", b"", 0o600),
    )
    assert is_gzip(data)
    assert read_tar_gz(data) == {
        "toolpack.json": Member("toolpack.json", b'{"format": 1}\n', 0o644),
        "tools/fmt/1": Member("tools/fmt/1", b"#!/bin/sh\necho fmt\n", 0o755),
        "tools/fmt/2": Member("tools/fmt/2", "é ünïcode\n".encode(), 0o644),
        "tools/lint/1": Member("tools/lint/1", b"", 0o600),
    }


def test_an_archive_written_by_tarfile_itself_reads_back() -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for index in range(3):
            body = f"tool {index}\n".encode() * 50
            tar.addfile(info(f"t{index}", size=len(body), mode=0o700), io.BytesIO(body))
    got = read_tar_gz(buf.getvalue())
    assert sorted(got) == ["t0", "t1", "t2"]
    assert got["t2"].data == b"tool 2\n" * 50 and got["t2"].mode == 0o700


def test_concatenated_gzip_members_are_one_stream() -> None:
    whole = gzip.decompress(tar_gz(file("a", b"A\n"), file("b", b"B\n")))
    data = gzip.compress(whole[:700], mtime=0) + gzip.compress(whole[700:], mtime=0)
    assert {p: m.data for p, m in read_tar_gz(data).items()} == {"a": b"A\n", "b": b"B\n"}


@pytest.mark.parametrize(
    ("name", "complaint"),
    [
        ("/etc/passwd", "member '/etc/passwd' has an absolute path"),
        ("../x", "member '../x' has a '..' component"),
        ("a/../../x", "member 'a/../../x' has a '..' component"),
        ("tools/../fmt", "member 'tools/../fmt' has a '..' component"),
    ],
)
def test_paths_that_could_leave_the_archive_are_refused(name: str, complaint: str) -> None:
    message = refused(tar_gz(file("ok"), file(name)))
    assert message.startswith(f"evil.tar.gz: {complaint}")


@pytest.mark.parametrize(
    ("member", "complaint"),
    [
        (info("ln", tarfile.SYMTYPE, linkname="/etc/passwd"), "a symbolic link (to '/etc/passwd')"),
        (info("hard", tarfile.LNKTYPE, linkname="ok"), "a hard link (to 'ok')"),
        (info("tty", tarfile.CHRTYPE, devmajor=4, devminor=1), "a device"),
        (info("sda", tarfile.BLKTYPE, devmajor=8, devminor=0), "a device"),
        (info("pipe", tarfile.FIFOTYPE), "a fifo"),
    ],
)
def test_links_devices_and_fifos_are_refused(member: tarfile.TarInfo, complaint: str) -> None:
    message = refused(tar_gz(file("ok"), (member, b"")))
    assert f"member {member.name!r} is {complaint}" in message
    assert "packs hold only regular files and directories" in message


def test_duplicate_paths_are_refused() -> None:
    message = refused(tar_gz(file("fmt", b"one\n"), file("./fmt", b"two\n")))
    assert "member 'fmt' appears more than once" in message
    assert "appears more than once" in refused(
        tar_gz(file("tools", b"x\n"), (info("tools", tarfile.DIRTYPE), b""))
    )


def test_more_than_max_members_is_refused() -> None:
    rng = random.Random(4)
    # Random names keep the archive from compressing past the ratio limit.
    members = [file(f"{i:05d}-{rng.randbytes(40).hex()}", b"") for i in range(10_001)]
    data = tar_gz(*members)
    assert "has more than 10000 members (limit max_members)" in refused(data)
    assert len(read_tar_gz(tar_gz(*members[:3]), Limits(max_members=3))) == 3
    assert "more than 2 members" in refused(tar_gz(*members[:3]), Limits(max_members=2))


def test_a_member_over_the_size_limit_is_refused() -> None:
    big = random.Random(1).randbytes(MiB + 1)  # incompressible: only the size limit applies
    message = refused(tar_gz(file("ok"), file("tools/huge.sh", big)))
    assert f"member 'tools/huge.sh' is {MiB + 1} bytes" in message
    assert "limit max_member_size" in message
    assert read_tar_gz(tar_gz(file("tools/huge.sh", big[:MiB])))["tools/huge.sh"].data == big[:MiB]


def test_a_decompression_bomb_is_stopped_at_max_total(monkeypatch: pytest.MonkeyPatch) -> None:
    bomb = zeros_tar_gz(100 * MiB)
    assert len(bomb) < MiB  # over 100 times smaller than what it unpacks to
    inflated: list[int] = []  # how far the output got, after each piece zlib gave
    add = archive._Output.add

    def counted(self: archive._Output, chunk: bytes) -> None:
        inflated.append(self.tell() + len(chunk))
        add(self, chunk)

    monkeypatch.setattr(archive._Output, "add", counted)
    message = refused(bomb, Limits(max_ratio=10**9))
    assert f"unpacks to more than {64 * MiB} bytes (limit max_total)" in message
    assert "decompression bomb" in message
    # Stopped one byte past the limit, not after inflating the 100 MiB: a byte count,
    # where a clock would depend on the machine's load.
    assert max(inflated) == 64 * MiB + 1
    assert "decompression bomb" in refused(bomb)  # the default limits refuse it too


def test_an_expansion_ratio_over_100_is_refused() -> None:
    bomb = zeros_tar_gz(2 * MiB)
    message = refused(bomb)
    assert f"expands more than 100 times its {len(bomb)} bytes (limit max_ratio)" in message
    assert len(read_tar_gz(bomb, Limits(max_member_size=2 * MiB, max_ratio=10**6))) == 1


def test_small_honest_archives_are_not_held_to_the_ratio() -> None:
    # 10 KiB of tar padding around one tiny file gzips ~100-fold; that is no bomb.
    data = tar_gz(file("fmt", b""))
    assert len(gzip.decompress(data)) / len(data) > 50
    assert read_tar_gz(data)["fmt"].data == b""


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"#!/bin/sh\necho not a pack\n",
        gzip.compress(b"hello, not a tar file\n"),
        tar_gz(file("fmt"))[:-30],  # truncated
        tar_gz(file("fmt")) + b"trailing garbage",
    ],
    ids=["empty", "script", "gzipped-text", "truncated", "trailing-garbage"],
)
def test_not_a_tar_gz_is_invalid_input(data: bytes) -> None:
    assert "evil.tar.gz is not a .tar.gz tool pack" in refused(data)


def test_an_empty_tar_holds_no_files() -> None:
    assert read_tar_gz(gzip.compress(bytes(1024))) == {}


def test_is_gzip() -> None:
    assert is_gzip(gzip.compress(b"x"))
    assert not is_gzip(b"#!/bin/sh\n")
    assert not is_gzip(b"\x1f")

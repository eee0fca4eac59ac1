"""Tool names and version specs: the one parser for CLI, library, HTTP and references.

Grammar (SPEC §2)::

    spec      := [prefix] name [ ":" selector | "@sha256:" hexprefix ]
    prefix    := "/commands/" | "/tools/" | "p42:/commands/" | "p42:/tools/"
    selector  := "latest" | "previous" | "versions" | N | "-" K | label | bound ".." bound
    bound     := "latest" | "previous" | N | "-" K | label   (a range: ``context`` only)
    name      := [A-Za-z0-9][A-Za-z0-9._-]{0,127}
    label     := [A-Za-z][A-Za-z0-9_-]{0,63}      (never a keyword)
    N, K      := decimal integers >= 1, no leading zeros
    hexprefix := 8..64 lowercase hex digits

References are stored in the pinned form ``name:N@sha256:<64 hex>``, which this
parser also reads back, so that a stored reference can be resolved and checked.
Everything here is pure: no I/O, no database.
"""

from __future__ import annotations

import re
from enum import Enum

from toolvault.errors import InvalidSpec

PREFIXES = ("p42:/commands/", "p42:/tools/", "/commands/", "/tools/")
KEYWORDS = ("latest", "previous", "versions")
NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
LABEL_RE = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,63}")
NUMBER_RE = re.compile(r"[1-9][0-9]*")
HEX_RE = re.compile(r"[0-9a-f]{8,64}")
RANGE_SEP = ".."

FORMS = (
    "NAME, NAME:latest, NAME:previous, NAME:N, NAME:-K, NAME:versions, NAME:LABEL, "
    "NAME@sha256:HEX (8-64 hex digits), optionally prefixed by /commands/ or p42:/commands/"
)
NAME_RULE = (
    "a name starts with a letter or digit and holds only letters, digits, '.', '_' and '-' "
    "(at most 128 characters)"
)


class Kind(Enum):
    """What a spec's selector asks for."""

    DEFAULT = "default"  # bare name: the latest version
    LATEST = "latest"
    PREVIOUS = "previous"
    VERSIONS = "versions"
    NUMBER = "number"  # name:N, optionally pinned with @sha256:
    BACK = "back"  # name:-K
    LABEL = "label"
    SHA = "sha"  # name@sha256:prefix
    RANGE = "range"  # name:A..B, every version from A to B (value: "A..B")


class Spec:
    """A parsed spec. ``value`` is N or K (int), a label or a hex prefix (str).

    Immutable and compared by value. Written by hand rather than as a dataclass:
    ``toolvault cat`` parses a spec on its fast path, where importing
    ``dataclasses`` (and through it ``inspect``) would cost more than the lookup.
    """

    __slots__ = ("kind", "name", "prefix", "sha256", "value")

    name: str
    kind: Kind
    value: int | str | None
    sha256: str | None  # only with NUMBER: the pinned content hash
    prefix: str

    def __init__(
        self,
        name: str,
        kind: Kind = Kind.DEFAULT,
        value: int | str | None = None,
        sha256: str | None = None,
        prefix: str = "",
    ) -> None:
        for slot, item in zip(self.__slots__, (kind, name, prefix, sha256, value), strict=True):
            object.__setattr__(self, slot, item)

    def __setattr__(self, key: str, value: object) -> None:
        raise AttributeError(f"Spec is immutable; cannot set {key}")

    def _key(self) -> tuple[object, ...]:
        return (self.name, self.kind, self.value, self.sha256, self.prefix)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Spec) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return "Spec({})".format(", ".join(repr(k) for k in self._key()))

    @property
    def back(self) -> int | None:
        """How many non-yanked versions before latest this spec means, if relative."""
        if self.kind in (Kind.DEFAULT, Kind.LATEST):
            return 0
        if self.kind is Kind.PREVIOUS:
            return 1
        if self.kind is Kind.BACK:
            assert isinstance(self.value, int)
            return self.value
        return None

    @property
    def pinned(self) -> bool:
        """True when the spec names one version whatever else happens (a number, a hash,
        a label): the only kind that can name a yanked version."""
        return self.kind in (Kind.NUMBER, Kind.SHA, Kind.LABEL)

    @property
    def bounds(self) -> tuple[Spec, Spec]:
        """A range's two ends as specs of one version each (``fmt:2..latest`` ->
        ``fmt:2``, ``fmt:latest``)."""
        if self.kind is not Kind.RANGE or not isinstance(self.value, str):
            raise InvalidSpec(f"'{self}' is not a range NAME:A..B")
        low, high = self.value.split(RANGE_SEP)
        return _bound(str(self), self.name, low), _bound(str(self), self.name, high)

    def __str__(self) -> str:
        return format_spec(self)


def format_spec(spec: Spec) -> str:
    """Render a spec in the grammar; ``parse(format_spec(s)) == s`` for every valid spec."""
    _text(spec, "format_spec's argument", "parse('fmt:2')", Spec)
    text = spec.prefix + spec.name
    if spec.kind is Kind.DEFAULT:
        return text
    if spec.kind is Kind.SHA:
        return f"{text}@sha256:{spec.value}"
    if spec.kind in (Kind.LATEST, Kind.PREVIOUS, Kind.VERSIONS):
        return f"{text}:{spec.kind.value}"
    if spec.kind is Kind.BACK:
        return f"{text}:-{spec.value}"
    if spec.kind is Kind.RANGE:
        return f"{text}:{spec.value}"
    pinned = f"@sha256:{spec.sha256}" if spec.sha256 else ""
    return f"{text}:{spec.value}{pinned}"


def format_ref(name: str, version: int, sha256: str) -> str:
    """The exact, never-drifting form a reference is stored in."""
    return f"{name}:{version}@sha256:{sha256}"


def validate_name(name: str) -> str:
    """Return ``name`` if it is a valid tool name, else raise :class:`InvalidSpec`."""
    _text(name, "a tool name", "'fmt'")
    if NAME_RE.fullmatch(name):
        return name
    details = {"name": name}
    if not name:
        raise InvalidSpec(f"empty tool name; {NAME_RULE}", details)
    if len(name) > 128 and NAME_RE.fullmatch(name[:128]):
        raise InvalidSpec(f"tool name is {len(name)} characters long; {NAME_RULE}", details)
    raise InvalidSpec(f"invalid tool name {name!r}: {NAME_RULE}", details)


def validate_label(label: str) -> str:
    """Return ``label`` if it may name a label, else raise :class:`InvalidSpec`."""
    _text(label, "a label", "'stable'")
    if label.lower() in KEYWORDS:
        raise InvalidSpec(
            f"label {label!r} is reserved: {', '.join(KEYWORDS)} are selectors", {"label": label}
        )
    if not LABEL_RE.fullmatch(label):
        raise InvalidSpec(
            f"invalid label {label!r}: a label starts with a letter and holds only letters, "
            "digits, '_' and '-' (at most 64 characters), so it never looks like a version",
            {"label": label},
        )
    return label


def parse(text: str) -> Spec:
    """Parse a spec string, raising :class:`InvalidSpec` with the accepted forms (and
    the spec refused in its ``details``)."""
    try:
        return _parse(text)
    except InvalidSpec as exc:
        if isinstance(text, str):
            exc.details.setdefault("spec", text)
        raise


def _parse(text: str) -> Spec:
    _text(text, "a spec", "'fmt' or 'fmt:2'")
    if not text:
        raise InvalidSpec(f"empty spec; accepted forms: {FORMS}")
    prefix = next((p for p in PREFIXES if text.startswith(p)), "")
    rest = text[len(prefix) :]
    match = NAME_RE.match(rest)
    if match is None:
        raise InvalidSpec(f"invalid spec {text!r}: {NAME_RULE}; accepted forms: {FORMS}")
    name, tail = match.group(), rest[match.end() :]
    if not tail:
        return Spec(name, prefix=prefix)
    if tail.startswith("@sha256:"):
        return Spec(name, Kind.SHA, _hex(text, tail[8:]), prefix=prefix)
    if tail.startswith(":"):
        return _selector(text, name, tail[1:], prefix)
    if NAME_RE.match(tail):
        validate_name(name + tail.split(":")[0].split("@")[0])
    raise InvalidSpec(f"invalid spec {text!r}: unexpected {tail!r}; accepted forms: {FORMS}")


def parse_name(text: str) -> str:
    """Parse a spec that must be a bare tool name (prefix allowed, no selector)."""
    _text(text, "a tool name", "'fmt'")
    spec = parse(text)
    if spec.kind is not Kind.DEFAULT:
        raise InvalidSpec(
            f"expected a tool name, got the spec {text!r}; {NAME_RULE}", {"spec": text}
        )
    return spec.name


def _text(value: object, what: str, example: str, kind: type = str) -> None:
    """Library callers may pass anything: a name or spec of another type is refused
    here, the one place every name passes, rather than failing deeper as a TypeError."""
    if not isinstance(value, kind):
        shown = "a text such as" if kind is str else "a Spec such as"
        raise InvalidSpec(f"{what} is {shown} {example}, not {type(value).__name__}")


def _hex(text: str, digits: str) -> str:
    if not HEX_RE.fullmatch(digits):
        raise InvalidSpec(
            f"invalid content hash in {text!r}: give 8 to 64 lowercase hex digits after "
            f"'@sha256:'; accepted forms: {FORMS}"
        )
    return digits


def _number(digits: str) -> int:
    try:
        return int(digits)
    except ValueError:  # over Python's limit on int() of a long digit string
        raise InvalidSpec(
            f"version number of {len(digits)} digits is too long; accepted forms: {FORMS}"
        ) from None


def _selector(text: str, name: str, sel: str, prefix: str) -> Spec:
    if RANGE_SEP in sel:
        return _range(text, name, sel, prefix)
    if sel in KEYWORDS:
        return Spec(name, Kind(sel), prefix=prefix)
    number, _, pinned = sel.partition("@sha256:")
    if NUMBER_RE.fullmatch(number):
        sha = _hex(text, pinned) if pinned or sel != number else None
        return Spec(name, Kind.NUMBER, _number(number), sha, prefix)
    if sel.startswith("-") and NUMBER_RE.fullmatch(sel[1:]):
        return Spec(name, Kind.BACK, _number(sel[1:]), prefix=prefix)
    if LABEL_RE.fullmatch(sel) and sel.lower() not in KEYWORDS:
        return Spec(name, Kind.LABEL, sel, prefix=prefix)
    raise InvalidSpec(f"invalid version selector in {text!r}: {_why(sel)}; accepted forms: {FORMS}")


def _range(text: str, name: str, sel: str, prefix: str) -> Spec:
    """``NAME:A..B``: each end one version (not ``versions``, not another range); two
    numbers must not run backwards (an end such as ``latest`` is checked when resolved)."""
    ends = sel.split(RANGE_SEP)
    if len(ends) != 2 or not all(ends):
        raise InvalidSpec(
            f"invalid range in {text!r}: give two ends, NAME:A..B (such as {name}:2..5 or "
            f"{name}:2..latest)"
        )
    low, high = (_bound(text, name, end) for end in ends)
    if isinstance(low.value, int) and isinstance(high.value, int) and low.kind is high.kind:
        backwards = low.value > high.value if low.kind is Kind.NUMBER else low.value < high.value
        if backwards:
            raise InvalidSpec(
                f"invalid range {text!r}: it runs backwards; give the older end first "
                f"({name}:{ends[1]}..{ends[0]})"
            )
    return Spec(name, Kind.RANGE, sel, prefix=prefix)


def _bound(text: str, name: str, end: str) -> Spec:
    """One end of a range: a selector that names one version."""
    if "@" in end or end == "versions":
        raise InvalidSpec(
            f"invalid range in {text!r}: an end is N, -K, latest, previous or a label, not {end!r}"
        )
    return _selector(text, name, end, "")


def _why(sel: str) -> str:
    digits = sel.lstrip("-")
    if digits.isdigit() and digits.isascii():
        if not digits.strip("0"):
            return "versions are numbered from 1 and -K counts back from 1"
        return f"{sel!r} has a leading zero"
    if not sel:
        return "nothing after ':'"
    if sel.lower() in KEYWORDS:
        return f"keywords are lowercase ({sel.lower()!r})"
    return f"{sel!r} is neither a number, -K, a keyword nor a label"

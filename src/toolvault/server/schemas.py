"""Request bodies and the documented response shapes of the daemon's API.

Responses are the service's own ``to_dict()`` shapes, sent as they are; the
models here describe them in ``/openapi.json`` (and a test holds them equal).
Request models parse and bound what clients send; any field a model does not
name is ignored. The token says who is writing: a ``created_by`` that differs from
its principal is kept as the version's ``claimed_by`` (SPEC §11).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, StrictInt, StrictStr, model_validator

# -- requests ---------------------------------------------------------------------------


class Body(BaseModel):
    """A request body: text only, with no unpaired surrogates (JSON allows ``"\\ud800"``,
    UTF-8 and the database do not)."""

    @model_validator(mode="before")
    @classmethod
    def _utf8_only(cls, data: Any) -> Any:
        _check_text(data)
        return data


def _check_text(value: Any) -> None:
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise ValueError(
                f"text holds an unpaired surrogate at offset {exc.start}; send UTF-8 text"
            ) from None
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_text(key)
            _check_text(item)
    elif isinstance(value, list):
        for item in value:
            _check_text(item)


class PublishItem(BaseModel):
    """One version to publish; the author and the owner of a new tool come from the token."""

    name: str = Field(description="Tool name.", examples=["fmt"])
    content: str = Field(description="The tool's text (UTF-8).")
    # strict: true or false, never "yes" or 1 (the library's rule, validate.flag)
    executable: bool | None = Field(
        None, strict=True, description="Default: content starts with '#!'."
    )
    origin: str | None = None
    session_id: str | None = None
    prompt: str | None = None
    message: str | None = None
    description: str | None = Field(
        None, description="One paragraph, at most 1,024 characters; default: the header's."
    )
    usage: str | None = Field(None, description="At most 8 KiB; default: the header's Usage:.")
    created_by: str | None = Field(
        None,
        description="The author the client names; the version's created_by is the token's "
        "principal, and a different name is kept as its claimed_by.",
    )
    references: list[str] | None = Field(None, description="Specs of versions this one uses.")
    transforms: list[str] | None = None
    created_at: str | None = Field(
        None, description="When the content was made (RFC 3339; stored in UTC)."
    )
    owner: str | None = Field(
        None, description="Owner of a new tool; honoured for admins only, others become owner."
    )
    allow_dangling: bool = Field(
        False, description="Store a reference that resolves to nothing as written."
    )
    expect_latest: str | None = Field(
        None,
        description="Publish only if the tool's latest is this version (any spec of the tool; "
        "a pinned ref checks its hash too); else 412 stale_base and nothing is written. "
        'For one item, the header If-Match: "<sha256>" says the same.',
        examples=["fmt:3@sha256:3fa9c2d1"],
    )
    expect_new: bool = Field(
        False,
        strict=True,
        description="Publish only if the tool does not exist yet (If-None-Match: * for one "
        "item); else 412 stale_base.",
    )


class PublishRequest(Body):
    """Versions to publish in one transaction: all of them, or none."""

    items: list[PublishItem] = Field(min_length=1, description="At least one version.")
    sign_with: str | None = Field(
        None, description="A signing key of the daemon (admins only); default its sign_with."
    )


class RollbackRequest(Body):
    """Which version's content to publish again."""

    # strict: JSON true is not version 1, nor 1.0 (the library's rule, validate.of_type)
    version: StrictStr | StrictInt = Field(
        description="A number or any selector: 2, previous, -2, stable."
    )
    message: str | None = None


class LabelRequest(Body):
    """Point a label at a version."""

    spec: str = Field(examples=["fmt:2"])
    label: str = Field(examples=["stable"])


class YankRequest(Body):
    """Mark a version as not to be used."""

    spec: str = Field(examples=["fmt:3"])
    reason: str


class LifecycleRequest(Body):
    """Deprecate, retire or reactivate a tool."""

    lifecycle: Literal["active", "deprecated", "retired"]
    message: str | None = None


class OwnerRequest(Body):
    """Transfer a tool."""

    owner: str


# -- responses --------------------------------------------------------------------------


class ErrorDetail(BaseModel):
    """What went wrong: a stable code and a message that says what would work."""

    code: str = Field(examples=["not_found"])
    message: str
    details: dict[str, Any] = Field(
        default_factory=dict,
        description="What a program needs to act: the current latest, the expected and "
        "found hash, the versions that exist (empty when there is nothing more to say).",
    )


class ErrorBody(BaseModel):
    """Every error response."""

    error: ErrorDetail


class Health(BaseModel):
    """Liveness."""

    ok: bool


class ToolOut(BaseModel):
    """A tool: the shape of ``ls --json``."""

    name: str
    latest_version: int | None
    versions: int
    owner: str
    lifecycle: str
    updated_at: str
    description: str | None = Field(None, description="Its latest version's description.")


class ToolState(ToolOut):
    """A tool with its lifecycle message."""

    lifecycle_message: str | None


class LabelOut(BaseModel):
    """A movable named pointer to a version."""

    name: str
    label: str
    version: int
    set_at: str
    set_by: str


class ToolDetail(ToolState):
    """A tool with its lifecycle message and labels."""

    labels: list[LabelOut]


class VersionOut(BaseModel):
    """One immutable version (SPEC §1), without its content."""

    name: str
    version: int
    sha256: str
    size: int
    executable: bool
    previous_version: int | None
    previous_sha256: str | None
    created_at: str
    recorded_at: str
    created_by: str | None
    owner: str | None
    origin: str | None
    session_id: str | None
    prompt: str | None
    message: str | None
    references: list[str]
    transforms: list[str]
    rollback_of: int | None
    signature: str | None
    key_id: str | None
    description: str | None = Field(None, description="One paragraph: what the tool does.")
    usage: str | None = Field(None, description="The text a user would read for --help.")
    claimed_by: str | None = Field(
        None, description="Through the daemon: the author the client named, if not the token's."
    )


class ListedVersion(VersionOut):
    """A version in a listing, with whether it was yanked."""

    ref: str = Field(description="The pinned form NAME:N@sha256:HEX (SPEC §11).")
    yanked: str | None = Field(description="The yank's reason; null if not yanked.")


class Described(VersionOut):
    """What ``show --json`` prints: the version, its signature status, yank, labels, tool."""

    ref: str = Field(description="The pinned form NAME:N@sha256:HEX (SPEC §11).")
    signature_status: str
    yanked: str | None
    labels: list[str]
    tool: ToolState


class DiffOut(BaseModel):
    """A unified diff between two versions."""

    old: str | None = Field(description="Null for a first version: diffed against nothing.")
    new: str
    added: int
    removed: int
    diff: str
    old_version: VersionOut | None
    new_version: VersionOut


class PublishedOut(BaseModel):
    """The outcome of one publish; ``created`` is false when the content was the latest."""

    name: str
    version: int
    sha256: str
    created: bool
    ref: str = Field(description="The pinned form NAME:N@sha256:HEX (SPEC §11).")
    warnings: list[str] = Field(
        default_factory=list, description="E.g. that it builds on a version older than the latest."
    )
    claimed_by: str | None = Field(
        None, description="The created_by sent, kept beside the principal (null: none)."
    )


class LabelDeleted(BaseModel):
    """A removed label."""

    name: str
    label: str
    deleted: bool


class YankOut(BaseModel):
    """A yanked version."""

    name: str
    version: int
    reason: str
    at: str
    actor: str


class AuditOut(BaseModel):
    """One entry of the hash-chained audit log."""

    seq: int
    at: str
    actor: str
    action: str
    tool: str | None
    version: int | None
    details: dict[str, Any]
    prev_hash: str
    hash: str


class CheckpointOut(BaseModel):
    """A signed head of the audit log (the JSON of ``toolvault checkpoint``)."""

    format: str
    seq: int
    hash: str
    at: str
    key_id: str
    public_key: str
    signature: str
    prev: str


class CheckpointServed(BaseModel):
    """The newest signed head and, with ``since``, the audit entries from that seq to it
    as stored: ``[seq, at, actor, action, tool, version, details (JSON text), prev_hash,
    hash]``, from which a client recomputes the chain from the head it saw to this one."""

    checkpoint: CheckpointOut | None
    entries: list[list[Any]]


class ProblemOut(BaseModel):
    """One problem verify found."""

    kind: str
    name: str | None
    version: int | None
    detail: str


class SearchOut(BaseModel):
    """One search result (SPEC §10); the snippet marks the match ``**…**``."""

    name: str
    version: int
    ref: str
    description: str
    lifecycle: str
    yanked: bool
    field: str
    snippet: str
    score: float


class ReportOut(BaseModel):
    """The shape of ``verify --json``."""

    ok: bool
    checked: dict[str, int]
    problems: list[ProblemOut]

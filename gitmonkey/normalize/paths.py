"""Repository paths for AWS items, and the reversible escaping of item ids into file names.

Item ids come from AWS and are untrusted: an S3 bucket, an IAM role or a tag-derived name may
contain ``/``, ``..``, control characters, or differ from another id only in letter case. An id
becomes one safe file-name component with ``escape_id``:

1. The id is encoded as UTF-8 (lone surrogates pass through, so every ``str`` round-trips).
   Bytes of ``[A-Za-z0-9._+=,@-]`` are kept; every other byte becomes ``%xx`` with lowercase
   hex, including ``%`` itself, ``~``, space, ``/`` and ``\\``.
2. A ``.`` is also encoded when it is the first or the last byte, or directly follows a kept
   ``.``: names never start with a dot, never end in a dot, never contain ``..``.
3. If the part before the first ``.`` is a Windows device name (CON, PRN, AUX, NUL, COM0-9,
   LPT0-9, any case), its first letter is encoded (``CON`` -> ``%43ON``).
4. If the result contains uppercase letters, ``~`` and a lowercase hex bitmask follow: bit *i*
   is set when the *i*-th ASCII letter of the name is uppercase. Two ids differing only in case
   therefore give names differing case-insensitively (``AdminRole`` -> ``AdminRole~21``).
5. A name longer than ``MAX_NAME_BYTES`` is replaced by a prefix of itself, ``~h`` and the first
   32 hex digits of the SHA-256 of the id. Such a name cannot be reversed: ``unescape_id``
   raises ``HashedIdError`` and the caller reads the id from the JSON document.

Escaped names are pure ASCII, so ``.lower()`` and ``.casefold()`` agree and no Unicode
normalisation of a file system (macOS NFD) can change them. ``unescape_id`` accepts only the
exact output of ``escape_id``.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

MAX_NAME_BYTES = 200
ITEMS_DIR = "items"
ISSUES_DIR = "issues"

_KEPT = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._+=,@-")
_HASH_HEX = 32
_HASH_MARK = "~h"
_RESERVED = frozenset(
    {"CON", "PRN", "AUX", "NUL"} | {f"{dev}{n}" for dev in ("COM", "LPT") for n in range(10)}
)
_BODY_RE = re.compile(r"(?:[A-Za-z0-9._+=,@-]|%[0-9a-f]{2})+")
_HASHED_RE = re.compile(r"(?:[A-Za-z0-9._+=,@-]|%[0-9a-f]{2})*~h[0-9a-f]{" + str(_HASH_HEX) + "}")
_TOKEN_RE = re.compile(r"%[0-9a-f]{2}|.", re.DOTALL)
_REGION_RE = re.compile(r"global|[a-z]{2}(?:-[a-z]+)+-[0-9]+", re.ASCII)
_TECHNOLOGY_RE = re.compile(r"[a-z0-9]+\.[a-z0-9_]+", re.ASCII)
_EXTENSIONS = {ITEMS_DIR: ".json", ISSUES_DIR: ".yaml"}


class HashedIdError(ValueError):
    """The name is the hashed form of an over-long id; read the id from the document."""


@dataclass(frozen=True)
class ItemLocation:
    """What a repository path says about an item. ``id`` is None for a hashed (over-long) name."""

    region: str
    technology: str
    id: str | None
    kind: str = ITEMS_DIR
    name: str = ""


def escape_id(item_id: str) -> str:
    """Escape an AWS item id into a safe, reversible, case-insensitively unique file name."""
    if not isinstance(item_id, str):
        raise TypeError(f"item id must be a str, not {type(item_id).__name__}")
    if not item_id:
        raise ValueError("item id must not be empty")
    body = _escape_body(item_id)
    mask = _case_mask(body)
    name = f"{body}~{mask:x}" if mask else body
    if len(name) <= MAX_NAME_BYTES:
        return name
    digest = hashlib.sha256(item_id.encode("utf-8", "surrogatepass")).hexdigest()[:_HASH_HEX]
    return _truncate(body, MAX_NAME_BYTES - len(_HASH_MARK) - _HASH_HEX) + _HASH_MARK + digest


def unescape_id(name: str) -> str:
    """Return the id that ``escape_id`` turned into ``name``.

    Raises ``HashedIdError`` for the hashed form of an over-long id and ``ValueError`` for any
    name that ``escape_id`` cannot have produced.
    """
    if not isinstance(name, str):
        raise TypeError(f"escaped id must be a str, not {type(name).__name__}")
    if _HASHED_RE.fullmatch(name) and len(name) <= MAX_NAME_BYTES:
        raise HashedIdError(f"{name!r} is the hashed name of an over-long id; read the id from the document")
    body = name.partition("~")[0]
    if not _BODY_RE.fullmatch(body):
        raise ValueError(f"{name!r} is not an escaped item id")
    data = bytes(
        int(token[1:], 16) if token.startswith("%") else ord(token) for token in _TOKEN_RE.findall(body)
    )
    try:
        item_id = data.decode("utf-8", "surrogatepass")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{name!r} does not decode to UTF-8: {exc.reason}") from None
    if not item_id or escape_id(item_id) != name:
        raise ValueError(f"{name!r} is not the canonical escaping of an item id")
    return item_id


def is_hashed_name(name: str) -> bool:
    """Whether ``name`` is the irreversible hashed form of an over-long id."""
    return bool(_HASHED_RE.fullmatch(name)) and len(name) <= MAX_NAME_BYTES


def validate_region(region: str) -> str:
    if not isinstance(region, str) or not _REGION_RE.fullmatch(region):
        raise ValueError(f"invalid region {region!r}: expected 'global' or a region like 'us-east-1'")
    return region


def validate_technology(technology: str) -> str:
    if not isinstance(technology, str) or not _TECHNOLOGY_RE.fullmatch(technology):
        raise ValueError(
            f"invalid technology {technology!r}: expected '<service>.<type>' like 'ec2.security_group'"
        )
    return technology


def slice_prefix(region: str, technology: str, *, kind: str = ITEMS_DIR) -> str:
    """The directory (with trailing ``/``) holding one slice's files, e.g. ``items/global/iam/role/``."""
    if kind not in _EXTENSIONS:
        raise ValueError(f"invalid kind {kind!r}: expected one of {sorted(_EXTENSIONS)}")
    service, type_ = validate_technology(technology).split(".", 1)
    return f"{kind}/{validate_region(region)}/{service}/{type_}/"


def item_path(region: str, technology: str, item_id: str) -> str:
    """``items/<region>/<service>/<type>/<escaped id>.json``."""
    return slice_prefix(region, technology) + escape_id(item_id) + _EXTENSIONS[ITEMS_DIR]


def issue_path(region: str, technology: str, item_id: str) -> str:
    """``issues/<region>/<service>/<type>/<escaped id>.yaml``."""
    return slice_prefix(region, technology, kind=ISSUES_DIR) + escape_id(item_id) + _EXTENSIONS[ISSUES_DIR]


def parse_item_path(path: str) -> ItemLocation:
    """Read an ``items/`` or ``issues/`` path back; ``ValueError`` for anything else."""
    parts = str(path).split("/")
    if len(parts) != 5 or parts[0] not in _EXTENSIONS:
        raise ValueError(
            f"{path!r} is not an item path: expected items|issues/<region>/<service>/<type>/<file>"
        )
    kind, region, service, type_, filename = parts
    extension = _EXTENSIONS[kind]
    if not filename.endswith(extension):
        raise ValueError(f"{path!r} is not an item path: {kind}/ files end in {extension}")
    validate_region(region)
    technology = validate_technology(f"{service}.{type_}")
    name = filename[: -len(extension)]
    try:
        item_id: str | None = unescape_id(name)
    except HashedIdError:
        item_id = None
    except ValueError as exc:
        raise ValueError(f"{path!r} is not an item path: {exc}") from None
    return ItemLocation(region=region, technology=technology, id=item_id, kind=kind, name=name)


def _escape_body(item_id: str) -> str:
    data = item_id.encode("utf-8", "surrogatepass")
    last = len(data) - 1
    out: list[str] = []
    for i, byte in enumerate(data):
        char = chr(byte)
        if char not in _KEPT or (char == "." and (i == 0 or i == last or out[-1] == ".")):
            out.append(f"%{byte:02x}")
        else:
            out.append(char)
    body = "".join(out)
    if body.split(".", 1)[0].upper() in _RESERVED:
        body = f"%{ord(body[0]):02x}{body[1:]}"
    return body


def _case_mask(body: str) -> int:
    mask = 0
    letter = 0
    for char in body:
        if char.isascii() and char.isalpha():
            if char.isupper():
                mask |= 1 << letter
            letter += 1
    return mask


def _truncate(body: str, limit: int) -> str:
    """Cut ``body`` to at most ``limit`` characters without splitting a ``%xx`` escape."""
    prefix = body[:limit]
    cut = prefix.rfind("%", max(0, len(prefix) - 2))
    return prefix[:cut] if cut != -1 else prefix

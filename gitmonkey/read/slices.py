"""Read a slice, or some items of one by id, into normalised documents by repository path.

Both reads raise nothing for AWS failures: the outcome carries the error instead, so a caller can
keep the history of what it could not read (DESIGN invariant 2). Ignored items (``ignore:`` in the
config) are left out exactly as a listing leaves them out, so both reads agree on what exists.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from botocore.exceptions import ClientError

from gitmonkey.config import AccountConfig, IgnoreRule
from gitmonkey.model import Item, SliceKey, Technology
from gitmonkey.normalize import Normalized, normalize_item
from gitmonkey.normalize.paths import item_path
from gitmonkey.read.aws import AccountSession, SliceContext

log = logging.getLogger(__name__)


def describe_error(exc: BaseException) -> str:
    """An AWS failure in one line: the error code and AWS's message, or the exception's type."""
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return f"{error.get('Code', 'ClientError')}: {error.get('Message', str(exc))}"
    return f"{type(exc).__name__}: {exc}"


@dataclass
class SliceOutcome:
    """One slice after reading: its normalised documents by path, or why it failed."""

    key: SliceKey
    documents: dict[str, Normalized] = field(default_factory=dict)
    error: str | None = None
    api_calls: int = 0
    seconds: float = 0.0
    ignored: int = 0

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass
class ItemsOutcome:
    """Some items of one slice after reading them again: path -> document, None where the item
    no longer exists; or why the read failed (then ``documents`` is empty and nothing may change)."""

    key: SliceKey
    documents: dict[str, Normalized | None] = field(default_factory=dict)
    error: str | None = None
    api_calls: int = 0
    listed: bool = False
    """True when the technology has no single-item read and the whole slice was listed."""

    @property
    def ok(self) -> bool:
        return self.error is None


class _Reader:
    def __init__(
        self, session: AccountSession, account: AccountConfig, ignore: Sequence[IgnoreRule], secret_key: bytes
    ) -> None:
        self.session, self.account, self.ignore, self.secret_key = session, account, ignore, secret_key

    def kept(self, item: Item) -> bool:
        return not any(rule.matches(item, self.account) for rule in self.ignore)

    def normalize(self, item: Item, tech: Technology) -> tuple[str, Normalized]:
        document = normalize_item(item, tech, account_id=self.account.id, secret_key=self.secret_key)
        return item_path(item.region, item.technology, item.id), document


def read_slice(
    session: AccountSession,
    account: AccountConfig,
    tech: Technology,
    region: str,
    *,
    ignore: Sequence[IgnoreRule] = (),
    secret_key: bytes,
) -> SliceOutcome:
    """Every item of ``tech`` in ``region``: all of them, or an error and none."""
    reader = _Reader(session, account, ignore, secret_key)
    outcome = SliceOutcome(SliceKey(account.name, region, tech.name))
    ctx = SliceContext(session, region)
    clock = time.monotonic()
    try:
        for item in tech.list_items(ctx):
            if not reader.kept(item):
                outcome.ignored += 1
                continue
            path, normalized = reader.normalize(item, tech)
            if path in outcome.documents:
                raise ValueError(f"two items map to {path}")
            outcome.documents[path] = normalized
    except Exception as exc:
        outcome.documents = {}
        outcome.error = describe_error(exc)
        log.debug("slice %s failed", outcome.key, exc_info=True)
    outcome.api_calls = ctx.api_calls
    outcome.seconds = time.monotonic() - clock
    return outcome


def read_items(
    session: AccountSession,
    account: AccountConfig,
    tech: Technology,
    region: str,
    ids: Iterable[str],
    *,
    ignore: Sequence[IgnoreRule] = (),
    secret_key: bytes,
) -> ItemsOutcome:
    """The items ``ids`` of ``tech`` in ``region`` as they are now, through the technology's
    ``get_item`` (or, without one, a listing of the slice); all of them, or an error and none."""
    wanted = sorted(set(ids))
    key = SliceKey(account.name, region, tech.name)
    if tech.get_item is None:
        listing = read_slice(session, account, tech, region, ignore=ignore, secret_key=secret_key)
        outcome = ItemsOutcome(key, error=listing.error, api_calls=listing.api_calls, listed=True)
        if listing.ok:
            paths = [item_path(region, tech.name, item_id) for item_id in wanted]
            outcome.documents = {path: listing.documents.get(path) for path in paths}
        return outcome
    reader = _Reader(session, account, ignore, secret_key)
    outcome = ItemsOutcome(key)
    ctx = SliceContext(session, region)
    try:
        for item_id in wanted:
            item = tech.get_item(ctx, item_id)
            if item is not None and item.id != item_id:
                raise ValueError(f"{tech.name}: reading {item_id!r} gave the item {item.id!r}")
            if item is None or not reader.kept(item):
                outcome.documents[item_path(region, tech.name, item_id)] = None
                continue
            path, normalized = reader.normalize(item, tech)
            outcome.documents[path] = normalized
    except Exception as exc:
        outcome.documents = {}
        outcome.error = describe_error(exc)
        log.debug("reading %s %s failed", key, wanted, exc_info=True)
    outcome.api_calls = ctx.api_calls
    return outcome

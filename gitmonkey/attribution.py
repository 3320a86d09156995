"""Who changed it: the CloudTrail event behind an item's change (opt-in, best effort).

For an item that changed between two syncs, ``Attributor.attribute`` asks CloudTrail's event
history (``cloudtrail:LookupEvents``) for the write events on that resource in the window and
returns the latest one, as commit trailers (Security Monkey #258 and #649; Historical stored the
same who / what / when with each revision).

Limits that callers must know:

- **Delivery delay.** CloudTrail shows an event 5 to 15 minutes after the call. A change made
  shortly before the sync is often not there yet: the result is then None, or the latest
  *earlier* write event of the window when the item changed twice. Attribution of a very
  recent change may be empty or name the previous writer.
- **One event per change.** Several writes in the window are collapsed to the latest one.
- **Rate.** AWS allows about two LookupEvents requests per second per account and region.
  Requests to one region are spaced by ``min_interval``, and one Attributor (one account, one
  sync) makes at most ``max_lookups`` requests; past that it returns None and counts ``skipped``.
- **Never raises for AWS reasons.** Any failure returns None and is counted in ``errors``;
  AccessDenied (or a region the credentials cannot use) stops further lookups in that region.
- **Untrusted text.** Actor, event name, address and user agent come from the caller's request
  as CloudTrail recorded it; control, format and separator characters are removed, so a value
  is always a single safe line for a commit trailer.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import unicodedata
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from gitmonkey.model import GLOBAL_REGION

if TYPE_CHECKING:
    from gitmonkey.read.aws import AccountSession

log = logging.getLogger(__name__)

IAM_ACTIONS = ("cloudtrail:LookupEvents",)
GLOBAL_EVENTS_REGION = "us-east-1"
# Services whose CloudTrail events are recorded in us-east-1 whatever region the item is filed under.
_GLOBAL_SERVICES = frozenset(
    {"iam", "sts", "cloudfront", "route53", "organizations", "waf", "globalaccelerator"}
)
_REGION_DISABLING_CODES = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "UnauthorizedOperation",
        "UnrecognizedClientException",
        "InvalidClientTokenId",
        "OptInRequired",
    }
)
_PAGE_SIZE = 50
_TEXT_LIMIT = 512
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


@dataclass(frozen=True)
class Attribution:
    """The latest successful write event CloudTrail recorded for an item in a time window."""

    actor: str  # userIdentity ARN (or principalId / invokedBy for services)
    event_name: str
    event_time: datetime
    source_ip: str | None
    user_agent: str | None
    event_id: str

    def trailers(self) -> list[tuple[str, str]]:
        """Commit trailers; the source address is left out when CloudTrail has none."""
        when = self.event_time.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        trailers = [
            ("Gitmonkey-Actor", self.actor),
            ("Gitmonkey-Event", self.event_name),
            ("Gitmonkey-Event-Time", when),
        ]
        if self.source_ip:
            trailers.append(("Gitmonkey-Source-Ip", self.source_ip))
        return trailers


def events_region(region: str, technology: str) -> str:
    """The region whose CloudTrail holds the item's events.

    Global services (IAM, ...) and items filed under ``global`` use us-east-1. S3 records a
    bucket's events in the bucket's own region, so pass the bucket's region when it is known.
    """
    if region == GLOBAL_REGION or technology.split(".", 1)[0] in _GLOBAL_SERVICES:
        return GLOBAL_EVENTS_REGION
    return region


def clean_text(value: Any, limit: int = _TEXT_LIMIT) -> str:
    """Untrusted text from AWS as one safe line: control/format/separator characters removed."""
    if not isinstance(value, str):
        return ""
    text = "".join(ch for ch in value if unicodedata.category(ch) not in _UNSAFE_CATEGORIES).strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


class Attributor:
    """Attributes item changes to CloudTrail events for one account during one sync.

    Thread-safe: slices may call ``attribute`` concurrently. Counters for the sync summary:
    ``lookups`` (requests made), ``skipped`` (attributions given up because ``max_lookups`` was
    spent), ``skipped_disabled`` (not tried: region disabled), ``errors`` (failed requests, by
    code in ``error_codes``), ``disabled_regions``, and ``calls`` (API calls, as slices count them).
    ``client_factory(region)`` replaces the session's counted client (tests).
    """

    def __init__(
        self,
        session: AccountSession,
        *,
        max_lookups: int = 100,
        lookback: timedelta = timedelta(hours=24),
        max_pages: int = 3,
        min_interval: float = 0.5,
        client_factory: Callable[[str], Any] | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if max_lookups < 0:
            raise ValueError(f"max_lookups must be >= 0, got {max_lookups}")
        if lookback <= timedelta(0):
            raise ValueError(f"lookback must be positive, got {lookback}")
        if max_pages < 1:
            raise ValueError(f"max_pages must be >= 1, got {max_pages}")
        self.session = session
        self.max_lookups = max_lookups
        self.lookback = lookback
        self.max_pages = max_pages
        self.calls: Counter[str] = Counter()
        self.lookups = 0
        self.skipped = 0
        self.skipped_disabled = 0
        self.errors = 0
        self.error_codes: Counter[str] = Counter()
        self._disabled: set[str] = set()
        self._client_factory = client_factory or self._session_client
        self._pacer = _Pacer(min_interval, clock, sleep)
        self._lock = threading.Lock()

    @property
    def disabled_regions(self) -> frozenset[str]:
        with self._lock:
            return frozenset(self._disabled)

    def attribute(
        self,
        region: str,
        technology: str,
        item_id: str,
        item_name: str,
        arn: str,
        since: datetime | None,
        until: datetime,
    ) -> Attribution | None:
        """The latest successful write event on the item in ``[since or until - lookback, until]``.

        Looks the resource up by id, then by name, then by ARN, stopping at the first that finds
        a write event. Returns None when nothing is found, the budget is spent, the region is
        disabled or a request fails. Raises ValueError only for a caller's bug: naive datetimes.
        """
        for label, value in (("until", until), ("since", since)):
            if value is not None and value.utcoffset() is None:
                raise ValueError(f"{label} must be timezone-aware, got {value!r}")
        start = since if since is not None else until - self.lookback
        if start >= until:
            return None
        lookup_region = events_region(region, technology)
        with self._lock:
            if lookup_region in self._disabled:
                self.skipped_disabled += 1
                return None
        try:
            for value in _distinct(item_id, item_name, arn):
                found = self._latest_write(lookup_region, value, start, until)
                if found is not _NOT_FOUND:
                    return found  # an Attribution, or None when the lookup was abandoned
        except Exception as exc:  # best effort: never break the sync
            self._count_error(type(exc).__name__)
            log.warning("attribution of %s %s failed: %s", technology, clean_text(item_id), exc)
        return None

    def _latest_write(self, region: str, value: str, start: datetime, until: datetime) -> Any:
        """The latest write event for one ResourceName value; None if abandoned, else _NOT_FOUND."""
        params: dict[str, Any] = {
            "LookupAttributes": [{"AttributeKey": "ResourceName", "AttributeValue": value}],
            "StartTime": start,
            "EndTime": until,
            "MaxResults": _PAGE_SIZE,
        }
        for _ in range(self.max_pages):
            if not self._take_lookup(region):
                return None
            self._pacer.wait(region)
            try:
                response = self._client_factory(region).lookup_events(**params)
            except ClientError as exc:
                code = str(exc.response.get("Error", {}).get("Code", "ClientError"))
                self._count_error(code)
                if code in _REGION_DISABLING_CODES:
                    with self._lock:
                        self._disabled.add(region)
                    log.warning("CloudTrail lookups disabled in %s: %s", region, code)
                return None
            events = response.get("Events")
            parsed = [a for a in map(parse_event, events if isinstance(events, list) else []) if a]
            if parsed:
                # LookupEvents returns the newest events first, so older pages cannot hold a later write.
                return max(parsed, key=lambda a: a.event_time)
            token = response.get("NextToken")
            if not isinstance(token, str) or not token:
                break
            params["NextToken"] = token
        return _NOT_FOUND

    def _take_lookup(self, region: str) -> bool:
        with self._lock:
            if region in self._disabled:
                self.skipped_disabled += 1
                return False
            if self.lookups >= self.max_lookups:
                self.skipped += 1
                return False
            self.lookups += 1
            return True

    def _count_error(self, code: str) -> None:
        with self._lock:
            self.errors += 1
            self.error_codes[code] += 1

    def _session_client(self, region: str) -> Any:
        return self.session.client("cloudtrail", region, self.calls)


_NOT_FOUND = object()


def parse_event(event: Any) -> Attribution | None:
    """An Attribution from one LookupEvents entry, or None for a read, a failed call or junk.

    ``CloudTrailEvent`` is a JSON string from AWS; when it cannot be read, the entry's own
    ``EventName``, ``EventTime``, ``EventId`` and ``Username`` are used.
    """
    if not isinstance(event, dict) or str(event.get("ReadOnly", "")).lower() == "true":
        return None
    detail = _load_detail(event.get("CloudTrailEvent"))
    if str(detail.get("readOnly", "")).lower() == "true" or detail.get("errorCode"):
        return None  # a call that failed changed nothing
    when = _event_time(event.get("EventTime"), detail.get("eventTime"))
    name = clean_text(event.get("EventName")) or clean_text(detail.get("eventName"))
    actor = _actor(detail.get("userIdentity")) or clean_text(event.get("Username"))
    if when is None or not name or not actor:
        return None
    return Attribution(
        actor=actor,
        event_name=name,
        event_time=when,
        source_ip=clean_text(detail.get("sourceIPAddress")) or None,
        user_agent=clean_text(detail.get("userAgent")) or None,
        event_id=clean_text(event.get("EventId")) or clean_text(detail.get("eventID")),
    )


def _load_detail(raw: Any) -> dict[str, Any]:
    if not isinstance(raw, str):
        return {}
    try:
        detail = json.loads(raw)
    except ValueError:
        return {}
    return detail if isinstance(detail, dict) else {}


def _actor(identity: Any) -> str:
    if not isinstance(identity, dict):
        return ""
    keys = ("invokedBy", "principalId") if identity.get("type") == "AWSService" else ("principalId",)
    for key in ("arn", *keys, "invokedBy", "userName"):
        actor = clean_text(identity.get(key))
        if actor:
            return actor
    return ""


def _event_time(listed: Any, recorded: Any) -> datetime | None:
    if isinstance(listed, datetime):
        return listed.replace(tzinfo=UTC) if listed.utcoffset() is None else listed.astimezone(UTC)
    if isinstance(recorded, str):
        try:
            parsed = datetime.fromisoformat(recorded.replace("Z", "+00:00"))
        except ValueError:
            return None
        return parsed.replace(tzinfo=UTC) if parsed.utcoffset() is None else parsed.astimezone(UTC)
    return None


def _distinct(*values: str) -> list[str]:
    seen: list[str] = []
    for value in values:
        if isinstance(value, str) and value and value not in seen:
            seen.append(value)
    return seen


class _Pacer:
    """Spaces requests to one region by ``interval`` seconds (LookupEvents: ~2/s per region)."""

    def __init__(self, interval: float, clock: Callable[[], float], sleep: Callable[[float], None]) -> None:
        self._interval = interval
        self._clock = clock
        self._sleep = sleep
        self._next: dict[str, float] = {}
        self._lock = threading.Lock()

    def wait(self, region: str) -> None:
        with self._lock:
            now = self._clock()
            slot = max(now, self._next.get(region, now))
            self._next[region] = slot + self._interval
        if slot > now:
            self._sleep(slot - now)

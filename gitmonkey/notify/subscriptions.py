"""The ``notifications:`` section of gitmonkey.yaml: validation and who hears about what."""

from __future__ import annotations

import fnmatch
import ipaddress
import json
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import jsonschema

from gitmonkey import events as ev
from gitmonkey.config import ConfigError

SCHEMA_PATH = Path(__file__).with_name("config.schema.json")

DEFAULT_KINDS = tuple(k for k in ev.EVENT_KINDS if k != ev.ISSUE_JUSTIFIED)
SCORED_KINDS = (ev.ISSUE_NEW, ev.ISSUE_REGRESSED, ev.ISSUE_FIXED, ev.JUSTIFICATION_EXPIRED)


@dataclass(frozen=True)
class Delivery:
    initial_backoff_seconds: float = 60.0
    max_backoff_seconds: float = 3600.0
    max_age_hours: float = 72.0
    keep_sent_days: float = 30.0
    max_diff_chars: int = 20_000


@dataclass(frozen=True)
class Recipient:
    """A channel plus an address, and the filters deciding which events reach it.

    Empty filters match everything. ``min_score`` applies to issue events only (item, slice
    and sync events carry no score); choose kinds with ``events``.
    """

    name: str
    channel: str
    address: tuple[str, ...] = ()
    accounts: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    technologies: tuple[str, ...] = ()
    items: tuple[str, ...] = ()
    events: tuple[str, ...] = DEFAULT_KINDS
    min_score: int = 0
    report: bool = False

    def wants_account(self, account_name: str, account_id: str) -> bool:
        return not self.accounts or account_name in self.accounts or account_id in self.accounts

    def wants(self, event: ev.Event) -> bool:
        if not any(fnmatch.fnmatchcase(event.kind, pattern) for pattern in self.events):
            return False
        if is_justified(event):
            return False
        if not self.wants_account(event.account, event.account_id):
            return False
        if not self.wants_item(event.technology, event.region, event.item_id, event.item_name):
            return False
        return not (event.kind in SCORED_KINDS and event.score < self.min_score)

    def wants_item(
        self, technology: str | None, region: str | None, item_id: str | None, item_name: str | None
    ) -> bool:
        """Region, technology and item filters; what an event does not name is not filtered."""
        if self.regions and region and not _any_glob(region, self.regions):
            return False
        if self.technologies and technology and not _any_glob(technology, self.technologies):
            return False
        names = [n for n in (item_id, item_name) if n]
        return not (self.items and names and not any(_any_glob(n, self.items) for n in names))

    def identity(self) -> str:
        return json.dumps([self.name, self.channel, list(self.address)])


@dataclass(frozen=True)
class Settings:
    channels: dict[str, dict[str, Any]] = field(default_factory=dict)
    recipients: tuple[Recipient, ...] = ()
    delivery: Delivery = field(default_factory=Delivery)

    def recipient(self, name: str) -> Recipient:
        for recipient in self.recipients:
            if recipient.name == name:
                return recipient
        known = ", ".join(r.name for r in self.recipients) or "none"
        raise ConfigError(f"notifications: no recipient named {name!r} (known: {known})")


def is_justified(event: ev.Event) -> bool:
    """Whether an issue event is about a justified issue, which never notifies.

    The audit attaches the justification record (``details.justification``; ``expired: true``
    when it lapsed). ``justification.expired`` and ``issue.justified`` events are about the
    justification itself: the first notifies by default, the second only recipients who ask.
    """
    if event.kind not in (ev.ISSUE_NEW, ev.ISSUE_REGRESSED, ev.ISSUE_FIXED):
        return False
    details = event.details or {}
    if "justified" in details:
        return bool(details["justified"])
    record = details.get("justification")
    return bool(record) and not (isinstance(record, dict) and record.get("expired"))


def _any_glob(value: str, patterns: tuple[str, ...]) -> bool:
    return any(fnmatch.fnmatchcase(value, p) for p in patterns)


@cache
def _validator() -> jsonschema.protocols.Validator:
    import jsonschema  # here, not at import: the post-commit hook must start fast

    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    cls = jsonschema.validators.validator_for(schema)
    return cls(schema)


def _error_path(error: jsonschema.ValidationError) -> str:
    parts = ["notifications"]
    for p in error.absolute_path:
        parts.append(f"[{p}]" if isinstance(p, int) else f".{p}")
    return parts[0] + "".join(parts[1:])


def validate(notifications: dict[str, Any]) -> None:
    """Raise ConfigError naming the first bad key and what was expected."""
    if not isinstance(notifications, dict):
        raise ConfigError(f"notifications: expected a mapping, got {type(notifications).__name__}")
    errors = sorted(_validator().iter_errors(notifications), key=lambda e: list(e.absolute_path))
    if errors:
        error = max(errors, key=lambda e: len(list(e.absolute_path)))
        raise ConfigError(f"{_error_path(error)}: {error.message}")


def load(notifications: dict[str, Any] | None) -> Settings:
    """Validate the section (schema, then cross-references) and return typed settings."""
    notifications = notifications or {}
    validate(notifications)
    channels = dict(notifications.get("channels") or {})
    for name, channel in channels.items():
        _check_channel(name, channel)
    raw_recipients = [
        (key, i, r)
        for key in ("recipients", "subscriptions")
        for i, r in enumerate(notifications.get(key) or [])
    ]
    recipients = []
    seen: set[str] = set()
    for key, i, raw in raw_recipients:
        where = f"notifications.{key}[{i}]"
        if raw["name"] in seen:
            raise ConfigError(f"{where}.name: recipient {raw['name']!r} is defined twice")
        seen.add(raw["name"])
        channel = channels.get(raw["channel"])
        if channel is None:
            known = ", ".join(sorted(channels)) or "none defined"
            raise ConfigError(f"{where}.channel: no channel named {raw['channel']!r} (known: {known})")
        address = raw.get("address") or ()
        address = (address,) if isinstance(address, str) else tuple(address)
        if channel["type"] == "email" and not address:
            raise ConfigError(f"{where}.address: an email recipient needs an address")
        kinds = tuple(raw.get("events") or DEFAULT_KINDS)
        for j, pattern in enumerate(kinds):
            if not any(fnmatch.fnmatchcase(k, pattern) for k in ev.EVENT_KINDS):
                raise ConfigError(
                    f"{where}.events[{j}]: {pattern!r} matches no event kind "
                    f"(kinds: {', '.join(ev.EVENT_KINDS)})"
                )
        recipients.append(
            Recipient(
                name=raw["name"],
                channel=raw["channel"],
                address=address,
                accounts=tuple(str(a) for a in raw.get("accounts") or ()),
                regions=tuple(raw.get("regions") or ()),
                technologies=tuple(raw.get("technologies") or ()),
                items=tuple(raw.get("items") or ()),
                events=kinds,
                min_score=raw.get("min_score", 0),
                report=raw.get("report", False),
            )
        )
    delivery = Delivery(**(notifications.get("delivery") or {}))
    return Settings(channels=channels, recipients=tuple(recipients), delivery=delivery)


def _check_channel(name: str, channel: dict[str, Any]) -> None:
    where = f"notifications.channels.{name}"
    pairs = {"email": ("password",), "slack": ("url",), "webhook": ("url", "secret")}
    for secret in pairs.get(channel["type"], ()):
        keys = [k for k in (secret, f"{secret}_env", f"{secret}_file") if k in channel]
        if len(keys) > 1:
            raise ConfigError(f"{where}: give only one of {', '.join(keys)}")
    if channel["type"] == "slack" and not ({"url_env", "url_file"} & channel.keys()):
        raise ConfigError(f"{where}: a Slack webhook URL is a secret: set url_env or url_file")
    if channel["type"] == "webhook" and not ({"url", "url_env", "url_file"} & channel.keys()):
        raise ConfigError(f"{where}: set url, url_env or url_file")
    has_password = "password_env" in channel or "password_file" in channel
    if channel["type"] == "email" and has_password and "username" not in channel:
        raise ConfigError(f"{where}: a password needs a username")
    if channel["type"] == "email":
        check_clear_login(where, channel)


def is_loopback_host(host: str) -> bool:
    """Whether ``host`` is ``localhost`` or a loopback address (127.0.0.0/8, ::1)."""
    name = host.strip().removeprefix("[").removesuffix("]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def check_clear_login(where: str, channel: dict[str, Any]) -> None:
    """Refuse an SMTP login without TLS except on this machine: the password would cross the wire in clear."""
    clear = channel.get("security") == "none" and channel.get("username")
    if clear and not is_loopback_host(channel["host"]):
        raise ConfigError(
            f"{where}: security: none with a username would send the SMTP password in clear to "
            f"{channel['host']}; use security: starttls or ssl (none is allowed only for a loopback host)"
        )

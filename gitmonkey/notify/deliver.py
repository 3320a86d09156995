"""Enqueue digests into the outbox and deliver them with retries.

The guarantee, per message and recipient:

- **Never lost.** A message is on disk (fsynced) before any delivery is tried. A failure keeps it
  pending with an exponential backoff (``next_attempt`` in the file), retried by later flushes
  until ``max_age_hours``; then it moves to ``outbox/dead/`` and is reported, never deleted.
- **Never twice.** Per recipient, the identities of the events already queued or sent are
  recorded (``dedup``): enqueuing drops them, and a digest left with nothing new is not written,
  so a run rebuilding events it had queued plus new ones queues only the new ones. The message's
  idempotency key is a hash of the recipient and of its events' identities.
- **Crashes while sending.** Before sending, the message is durably marked ``sending``; after,
  ``sent``. A crash after the ``sent/`` record is written but before the pending file is removed
  is finished by the next flush (the record proves the delivery). Only a crash before the record
  leaves ``sending`` behind with the send unknown. Then channels whose receivers can deduplicate
  (webhook: ``Idempotency-Key`` header; email: ``Message-ID``; SNS FIFO topics:
  ``MessageDeduplicationId``) get it again with the same key; the others (Slack, standard SNS,
  stdout) are not resent: the message goes to ``dead/`` marked "may have been delivered", so a
  person decides (``gitmonkey notify retry``). No transport can promise more than this.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import gitmonkey.notify.subscriptions as subscriptions
from gitmonkey import events as ev
from gitmonkey.config import AccountConfig, ConfigError
from gitmonkey.notify.channels import DeliveryError, build_channel
from gitmonkey.notify.dedup import EventRecords, event_identity, records_lock
from gitmonkey.notify.links import repo_web_base
from gitmonkey.notify.outbox import PENDING, SENDING, Outbox, iso, parse_time, utcnow
from gitmonkey.notify.render import Rendered, render

log = logging.getLogger(__name__)


@dataclass
class FlushResult:
    delivered: int = 0
    pending: int = 0
    dead: int = 0
    errors: list[str] = field(default_factory=list)
    busy: bool = False

    def __str__(self) -> str:
        text = f"{self.delivered} delivered, {self.pending} pending, {self.dead} dead"
        if self.busy:
            text += " (another flush is running)"
        return text


def idempotency_key(recipient: subscriptions.Recipient, identities: list[str]) -> str:
    data = json.dumps([recipient.identity(), sorted(set(identities))])
    return hashlib.sha256(data.encode()).hexdigest()


def repo_of(state_dir: Path) -> Path | None:
    """The working tree owning ``<repo>/.git/gitmonkey``, if that is where the state lives."""
    state_dir = Path(state_dir)
    return state_dir.parent.parent if state_dir.parent.name == ".git" else None


def new_message(
    key: str, recipient: subscriptions.Recipient, account: str, account_id: str, rendered: Rendered,
    now: datetime, kind: str = "digest",
) -> dict[str, Any]:
    return {
        "version": 1,
        "key": key,
        "kind": kind,
        "state": PENDING,
        "recipient": recipient.name,
        "channel": recipient.channel,
        "address": list(recipient.address),
        "account": account,
        "account_id": account_id,
        "created": iso(now),
        "next_attempt": iso(now),
        "attempts": 0,
        "last_error": None,
        "subject": rendered.subject,
        "text": rendered.text,
        "html": rendered.html,
        "slack": rendered.slack,
        "payload": rendered.payload,
    }


def _worth_sending(events: list[ev.Event]) -> bool:
    """A summary of a sync that changed nothing and failed nowhere is not worth a message."""
    for e in events:
        if e.kind != ev.SYNC_SUMMARY:
            return True
        d = e.details or {}
        if any(d.get(k) for k in ("added", "modified", "deleted", "failed_slices")):
            return True
    return False


def enqueue(
    state_dir: Path, account: AccountConfig, events: list[ev.Event], notifications: dict[str, Any],
    *, now: datetime | None = None,
) -> int:
    """Write one digest per interested recipient into the outbox; returns the messages written.

    Events the recipient was already queued or sent (within ``keep_sent_days``) are left out; a
    digest with nothing new left, or only a summary of a sync that changed nothing, is not written.
    """
    settings = subscriptions.load(notifications)
    now = now or utcnow()
    outbox = Outbox(state_dir)
    base_url: str | None = None
    base_known = False
    written = 0
    identified = [(event_identity(e), e) for e in events]
    for recipient in settings.recipients:
        if not recipient.wants_account(account.name, account.id):
            continue
        chosen = [(i, e) for i, e in identified if recipient.wants(e)]
        if not chosen or not _worth_sending([e for _, e in chosen]):
            continue
        records = EventRecords(outbox, recipient.identity())
        with records_lock(outbox):
            seen = records.known()
            fresh = []
            for identity, event in chosen:
                if identity not in seen:
                    seen.add(identity)
                    fresh.append((identity, event))
            if not fresh or not _worth_sending([e for _, e in fresh]):
                continue
            key = idempotency_key(recipient, [i for i, _ in fresh])
            # The record first: a crash before the message leaves an entry that does not count.
            records.record(key, [i for i, _ in fresh], now)
            if outbox.known(key):
                continue
            if not base_known:
                base_url, base_known = repo_web_base(repo_of(state_dir), account.remote), True
            rendered = render(
                account.name, account.id, [e for _, e in fresh], base_url=base_url,
                max_diff_chars=settings.delivery.max_diff_chars, key=key,
            )
            if outbox.add(new_message(key, recipient, account.name, account.id, rendered, now)):
                written += 1
    return written


def _backoff(delivery: subscriptions.Delivery, attempts: int) -> timedelta:
    seconds = delivery.initial_backoff_seconds * 2 ** max(attempts - 1, 0)
    return timedelta(seconds=min(seconds, delivery.max_backoff_seconds))


def flush(state_dir: Path, notifications: dict[str, Any], *, now: datetime | None = None) -> FlushResult:
    """Deliver every due message; never raises for a channel that is down."""
    settings = subscriptions.load(notifications)
    now = now or utcnow()
    outbox = Outbox(state_dir)
    result = FlushResult()
    if not outbox.root.is_dir():
        return result
    with outbox.locked() as acquired:
        if not acquired:
            result.busy = True
            result.pending = outbox.count()
            return result
        for path in outbox.unreadable():
            result.errors.append(f"{path.name}: unreadable outbox file left in place")
        for message in outbox.pending():
            _deliver_one(outbox, settings, message, now, result)
        outbox.prune_sent(now, settings.delivery.keep_sent_days)
        result.pending = outbox.count()
    return result


def _deliver_one(
    outbox: Outbox, settings: subscriptions.Settings, message: dict[str, Any], now: datetime,
    result: FlushResult,
) -> None:
    if outbox.finish_sent(message["key"]):
        result.delivered += 1
        return
    label = f"{message['recipient']} ({message['subject'][:60]})"
    channel_config = settings.channels.get(message["channel"])
    channel = build_channel(message["channel"], channel_config) if channel_config else None
    if message.get("state") == SENDING:
        if channel is None or not channel.dedupes:
            reason = (
                "interrupted during delivery: it may have been delivered, and this channel's "
                "receiver cannot deduplicate, so it is not resent (gitmonkey notify retry resends it)"
            )
            outbox.mark_dead(message, reason, now)
            result.dead += 1
            result.errors.append(f"{label}: {reason}")
            return
    elif parse_time(message["next_attempt"]) > now:
        return
    message["attempts"] = message.get("attempts", 0) + 1
    message["last_attempt"] = iso(now)
    permanent = False
    try:
        if channel is None:
            raise ConfigError(f"notifications.channels: no channel named {message['channel']!r}")
        message["state"] = SENDING
        outbox.save(message)
        channel.send(message)
    except DeliveryError as exc:
        error, permanent = str(exc), exc.permanent
    except ConfigError as exc:
        error = f"config error: {exc}"
    except Exception as exc:
        log.exception("delivery to %s failed", label)
        error = f"{type(exc).__name__}: {exc}"
    else:
        outbox.mark_sent(message, now)
        result.delivered += 1
        return
    message["state"] = PENDING
    message["last_error"] = error
    too_old = now - parse_time(message["created"]) >= timedelta(hours=settings.delivery.max_age_hours)
    if permanent or too_old:
        why = "permanent error" if permanent else f"undelivered after {settings.delivery.max_age_hours:g} h"
        outbox.mark_dead(message, f"{why}: {error}", now)
        result.dead += 1
        result.errors.append(f"{label}: gave up ({why}): {error}")
        return
    message["next_attempt"] = iso(now + _backoff(settings.delivery, message["attempts"]))
    outbox.save(message)
    result.errors.append(f"{label}: {error} (retry after {message['next_attempt']})")


def pending_count(state_dir: Path) -> int:
    """Messages waiting in the outbox (pending or interrupted while sending)."""
    return Outbox(state_dir).count()


def send_test(
    notifications: dict[str, Any], recipient_name: str, *, account: AccountConfig | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Send a test message to one recipient right away, bypassing the outbox; raises DeliveryError."""
    settings = subscriptions.load(notifications)
    recipient = settings.recipient(recipient_name)
    now = now or utcnow()
    name, account_id = (account.name, account.id) if account else ("test", "000000000000")
    event = ev.Event(
        kind=ev.SYNC_SUMMARY, account=name, account_id=account_id,
        title=f"gitmonkey test message for {recipient.name} at {iso(now)}",
        details={"test": True},
    )
    key = idempotency_key(recipient, [event_identity(event)])
    rendered = render(name, account_id, [event], base_url=None, max_diff_chars=0, key=key)
    rendered = Rendered(
        subject=f"[{name}] gitmonkey test message", text=rendered.text, html=rendered.html,
        slack=rendered.slack, payload={**rendered.payload, "test": True},
    )
    message = new_message(key, recipient, name, account_id, rendered, now, kind="test")
    build_channel(recipient.channel, settings.channels[recipient.channel]).send(message)
    return message

"""From delivered queue messages to what to read again, and who made each change (issue #8).

A message body is an EventBridge event whose ``detail`` is a CloudTrail record ("AWS API Call via
CloudTrail"). ``read_batch`` sorts a batch of messages into:

- ``changes``: one ``Change`` per item (or whole slice) the event map names, with the principal who
  made it, the event's time, id, name, source address and user agent — all untrusted text, cleaned
  to single safe lines (``attribution.clean_text``);
- ``skipped``: messages that change nothing gitmonkey records (a failed call: ``errorCode``; a
  read-only call; an account or region that is not configured; an event the map does not name),
  to be deleted after the batch;
- ``poison``: messages that cannot be read (not JSON, not an EventBridge event of a CloudTrail
  record), left for the queue's redrive to its dead-letter queue.

``record.reads_of`` then merges the changes of a batch: several events for one item are one read,
and the item's commit names the latest event (delivery is unordered: the re-read stores the item's
current state, and the latest event is the best account of how it got there).
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from gitmonkey.attribution import clean_text
from gitmonkey.config import Config
from gitmonkey.listen.event_map import EventMap
from gitmonkey.status import read_time

GLOBAL = "global"
_SAFE_EMAIL_LOCAL = re.compile(r"[^A-Za-z0-9._+=-]+")


@dataclass(frozen=True)
class Principal:
    """Who made a change, for the commit's author line (name and a made-up email: git needs one)."""

    name: str
    arn: str
    type: str

    @property
    def email(self) -> str:
        local = _SAFE_EMAIL_LOCAL.sub("-", self.name).strip("-.") or "unknown"
        return f"{local[:64]}@{self.type.lower() or 'principal'}.aws"


@dataclass(frozen=True)
class Change:
    message_id: str
    account: str
    """The configured account's name."""
    region: str
    """The item's region: ``global`` for global technologies."""
    technology: str
    item_id: str | None
    """None: the event names no item; read the whole (account, region, technology) slice again."""
    principal: Principal
    event_id: str
    event_name: str
    event_time: datetime
    source_ip: str
    user_agent: str

    def to_dict(self) -> dict[str, Any]:
        """The change as JSON-ready data: what `gitmonkey listen` hands to a worker's task."""
        return {
            "message_id": self.message_id, "account": self.account, "region": self.region,
            "technology": self.technology, "item_id": self.item_id,
            "principal": dataclasses.asdict(self.principal),
            "event_id": self.event_id, "event_name": self.event_name,
            "event_time": self.event_time.isoformat(), "source_ip": self.source_ip,
            "user_agent": self.user_agent,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Change:
        """The change ``to_dict`` wrote; ``ValueError`` for anything else (a task's arguments come
        off a queue: they are checked like any input)."""
        try:
            principal = data["principal"]
            when = datetime.fromisoformat(str(data["event_time"]))
            item_id = data["item_id"]
            change = cls(
                message_id=str(data["message_id"]), account=str(data["account"]), region=str(data["region"]),
                technology=str(data["technology"]), item_id=None if item_id is None else str(item_id),
                principal=Principal(clean_text(principal["name"], 128), clean_text(principal["arn"], 256),
                                    clean_text(principal["type"], 32)),
                event_id=clean_text(data["event_id"], 64), event_name=clean_text(data["event_name"], 128),
                event_time=when, source_ip=clean_text(data["source_ip"], 128),
                user_agent=clean_text(data["user_agent"], 256),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"not a change written by Change.to_dict: {type(exc).__name__}: {exc}") from exc
        if when.tzinfo is None:
            raise ValueError("not a change written by Change.to_dict: event_time has no time zone")
        return change


@dataclass
class Batch:
    changes: list[Change] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    """(message id, why) of messages that change nothing recorded: delete them."""
    poison: list[tuple[str, str]] = field(default_factory=list)
    """(message id, why) of messages that cannot be read: leave them for the dead-letter queue."""


def principal_of(identity: Any) -> Principal:
    """The principal of a CloudTrail ``userIdentity``: an IAM user by name, an assumed role as
    ``role/session``, the root user, an AWS service by the service that invoked the call."""
    if not isinstance(identity, Mapping):
        return Principal("unknown", "", "")
    kind = clean_text(identity.get("type"), 32)
    arn = clean_text(identity.get("arn"), 256)
    if kind == "AssumedRole" and arn:
        # arn:aws:sts::123456789012:assumed-role/ROLE/SESSION
        resource = arn.split(":", 5)[-1]
        name = "/".join(resource.split("/")[1:3]) or arn
    elif kind == "Root":
        name = "root"
    elif kind == "AWSService" or (not kind and identity.get("invokedBy")):
        # KMS logs the end of a key's deletion waiting period with only {accountId, invokedBy}
        name = clean_text(identity.get("invokedBy"), 128) or "aws-service"
    else:
        name = (
            clean_text(identity.get("userName"), 128)
            or (arn.rsplit("/", 1)[-1] if arn else "")
            or clean_text(identity.get("principalId"), 128)
            or "unknown"
        )
    return Principal(name=name.replace("<", "").replace(">", ""), arn=arn, type=kind)


def read_batch(
    messages: Iterable[Mapping[str, Any]],
    event_map: EventMap,
    config: Config,
    global_technologies: Iterable[str],
) -> Batch:
    """Sort SQS messages (``MessageId``, ``Body``) into changes, skipped and poison."""
    accounts = {a.id: a for a in config.accounts}
    global_ = set(global_technologies)
    batch = Batch()
    for message in messages:
        message_id = str(message.get("MessageId") or "")
        try:
            envelope = json.loads(message.get("Body") or "")
        except (TypeError, ValueError):
            batch.poison.append((message_id, "the body is not JSON"))
            continue
        detail = envelope.get("detail") if isinstance(envelope, Mapping) else None
        if not isinstance(detail, Mapping) or not detail.get("eventSource") or not detail.get("eventName"):
            batch.poison.append((message_id, "not an EventBridge event of a CloudTrail record"))
            continue
        if detail.get("errorCode"):
            batch.skipped.append((message_id, "the call failed"))
            continue
        if str(detail.get("readOnly")).lower() == "true":
            batch.skipped.append((message_id, "a read-only call"))
            continue
        account_id = str(detail.get("recipientAccountId") or envelope.get("account") or "")
        account = accounts.get(account_id)
        if account is None:
            batch.skipped.append((message_id, f"account {clean_text(account_id, 32)} is not configured"))
            continue
        event_region = str(detail.get("awsRegion") or envelope.get("region") or "")
        targets = event_map.targets(detail)
        if not targets:
            batch.skipped.append((message_id, "the event map names no watched item"))
            continue
        when = read_time(detail.get("eventTime") or envelope.get("time"))
        if when is None:
            batch.poison.append((message_id, "no readable eventTime"))
            continue
        taken = False
        for target in targets:
            region = GLOBAL if target.technology in global_ else event_region
            if region != GLOBAL and account.regions and region not in account.regions:
                continue
            taken = True
            batch.changes.append(
                Change(
                    message_id=message_id,
                    account=account.name,
                    region=region,
                    technology=target.technology,
                    item_id=target.item_id,
                    principal=principal_of(detail.get("userIdentity")),
                    event_id=clean_text(detail.get("eventID"), 64),
                    event_name=clean_text(detail.get("eventName"), 128),
                    event_time=when,
                    source_ip=clean_text(detail.get("sourceIPAddress"), 128),
                    user_agent=clean_text(detail.get("userAgent"), 256),
                )
            )
        if not taken:
            batch.skipped.append((message_id, f"region {clean_text(event_region, 32)} is not configured"))
    return batch

"""Rounds as wall-clock periods: the round a time falls in, and the SQS deduplication id of a task.

A round is named by the boundary of ``workers.round_minutes`` it belongs to (``20260301T1000Z``
for 10:00-10:59 with 60-minute rounds), so every scheduler, cron ``gitmonkey enqueue`` and worker
names the same round the same way without talking to each other.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


def round_start(now: datetime, minutes: int) -> datetime:
    """The start of the round ``now`` falls in: a multiple of ``minutes`` since the epoch, in UTC."""
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    period = minutes * 60
    seconds = int(now.timestamp()) // period * period
    return datetime.fromtimestamp(seconds, UTC)


def round_id(now: datetime, minutes: int) -> str:
    return round_start(now, minutes).strftime("%Y%m%dT%H%MZ")


def next_round(now: datetime, minutes: int) -> datetime:
    return round_start(now, minutes) + timedelta(minutes=minutes)


def deduplication_id(account_id: str, round_name: str) -> str:
    return f"{account_id}-{round_name}"

"""How event-driven collection is doing, for `gitmonkey status` and `gitmonkey events status`:
the queue's depth, the dead-letter queue's (messages no listener could read), and what the last
`gitmonkey listen` run did."""

from __future__ import annotations

import contextlib
import json
from typing import Any

from gitmonkey.config import Config


def listen_health(config: Config, *, queue: Any = None) -> dict[str, Any] | None:
    """None when ``events:`` is not configured; reading the queue may fail (``queue_error``)."""
    if not config.events:
        return None
    from gitmonkey.listen.queue import EventQueue
    from gitmonkey.listen.run import status_path

    result: dict[str, Any] = {"queue_url": config.events.get("queue_url"), "last_run": None}
    with contextlib.suppress(OSError, ValueError):
        result["last_run"] = json.loads(status_path(config).read_text())
    try:
        result.update((queue or EventQueue(config.events)).depth())
    except Exception as exc:
        result["queue_error"] = f"{type(exc).__name__}: {exc}"
    return result


def health_lines(health: dict[str, Any]) -> list[str]:
    """``listen_health`` as lines of text; a dead-letter queue holding messages is said first."""
    lines = []
    dead = health.get("dead_letter")
    if dead and dead.get("messages"):
        lines.append(
            f"  DEAD-LETTER {dead['messages']} messages no listener could read, in {dead['queue_url']} "
            "(inspect them, then purge or redrive)"
        )
    if health.get("queue_error"):
        lines.append(f"  queue unreadable: {health['queue_error']}")
    elif "waiting" in health:
        lines.append(f"  queue {health['waiting']} waiting, {health['in_flight']} in flight")
        if dead is None:
            lines.append("  the queue has no dead-letter queue: unreadable messages are retried forever")
    run = health.get("last_run")
    if run:
        lines.append(
            f"  last listen {run.get('run_id')} ended {run.get('finished')}: "
            f"{run.get('received', 0)} received, "
            f"{run.get('recorded', 0)} recorded, "
            + (f"{run['tasks']} tasks handed to the workers, " if run.get("tasks") else "")
            + f"{run.get('commits', 0)} commits, "
            f"{run.get('poison', 0)} unreadable, {len(run.get('errors') or [])} errors"
        )
    else:
        lines.append("  no listen run recorded yet")
    return lines

"""How the workers' queue is doing, for `gitmonkey status`: tasks waiting, tasks in flight (being
run, or held by a stopped worker's last poll until the visibility timeout) and the dead-letter
queue's depth, read from SQS with the broker URL's endpoint and the transport's region.

Brokers other than SQS are named but not read (Redis and the others have their own tools).
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import unquote, urlsplit

from gitmonkey.config import Config, ConfigError
from gitmonkey.distributed.settings import WorkerSettings, worker_settings

DEFAULT_REGION = "us-east-1"
"""kombu's SQS transport's region when neither the transport options nor the environment name one."""


def sqs_client(settings: WorkerSettings) -> Any:
    """A boto3 SQS client for the broker of ``settings`` (an ``sqs://`` URL), as kombu would reach it:
    the URL's host as endpoint (``is_secure`` choosing https, the default, or http), its user and
    password as keys if it has them, else the AWS credential chain."""
    import boto3

    url = urlsplit(str(settings.broker_url))
    options = settings.transport_options
    region = options.get("region") or os.environ.get("AWS_DEFAULT_REGION") or DEFAULT_REGION
    endpoint = None
    if url.hostname and url.hostname != "localhost":
        scheme = "https" if options.get("is_secure", True) else "http"
        endpoint = f"{scheme}://{url.hostname}" + (f":{url.port}" if url.port else "")
    keys = {}
    if url.username and url.password:
        keys = {"aws_access_key_id": unquote(url.username), "aws_secret_access_key": unquote(url.password)}
    return boto3.client("sqs", region_name=region, endpoint_url=endpoint, **keys)


def workers_health(config: Config, *, client: Any = None) -> dict[str, Any] | None:
    """None without a ``workers:`` section; else the queue, its depth and its dead-letter queue's
    (``error`` when it cannot be read)."""
    if not config.workers:
        return None
    from gitmonkey.listen.queue import EventQueue

    try:
        settings = worker_settings(config)
    except ConfigError as exc:
        return {"queue": (config.workers or {}).get("queue"), "error": str(exc)}
    name = str(settings.transport_options.get("queue_name_prefix") or "") + settings.queue
    result: dict[str, Any] = {"queue": name, "broker": str(settings.broker_url).split("://", 1)[0]}
    if not settings.is_sqs:
        result["note"] = "the queue's depth is read from SQS brokers only"
        return result
    try:
        client = client or sqs_client(settings)
        url = client.get_queue_url(QueueName=name)["QueueUrl"]
        depth = EventQueue({"queue_url": url}, client=client).depth()
    except Exception as exc:
        result["error"] = f"{type(exc).__name__}: {exc}"
        return result
    result.update(depth)
    return result


def workers_lines(health: dict[str, Any]) -> list[str]:
    """``workers_health`` as lines of text, a dead-letter queue holding tasks first."""
    lines = []
    dead = health.get("dead_letter")
    if dead and dead.get("messages"):
        lines.append(f"  DEAD-LETTER {dead['messages']} tasks in {dead['queue_url']} (an account whose task "
                     "kills its worker? see the workers' logs)")
    if health.get("error"):
        lines.append(f"  the queue cannot be read: {health['error']}")
    elif health.get("note"):
        lines.append(f"  {health['note']}")
    else:
        lines.append(f"  queue {health['waiting']} waiting, {health['in_flight']} in flight")
    return lines

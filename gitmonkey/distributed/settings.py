"""The ``workers:`` section of gitmonkey.yaml, with its defaults, resolved for use.

The schema (``config.schema.json`` beside this file) is checked when the config loads; what it
cannot check is read here, when a worker command needs it: the broker URL behind
``broker_url_env``, and the shared secret behind ``secret_key_env`` / ``secret_key_file``. Each
problem raises ``ConfigError`` naming the key (exit 2 in the CLI).
"""

from __future__ import annotations

import hashlib
import hmac
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from gitmonkey.config import Config, ConfigError
from gitmonkey.store.state import SECRET_KEY_BYTES

DEFAULT_QUEUE = "gitmonkey-sync.fifo"
DEFAULT_VISIBILITY_TIMEOUT = 3600
DEFAULT_ROUND_MINUTES = 60
DEFAULT_CONCURRENCY = 1
DEFAULT_PUSH_RETRIES = 3
MIN_SECRET_BYTES = 32
TIME_LIMIT_FRACTION = 0.9
"""A task is killed at this fraction of the visibility timeout: it never outlives its message's
invisibility, so SQS never hands the account to a second worker while the first still runs."""


@dataclass(frozen=True)
class WorkerSettings:
    broker_url: str | None
    queue: str = DEFAULT_QUEUE
    transport_options: dict[str, Any] = field(default_factory=dict)
    visibility_timeout: int = DEFAULT_VISIBILITY_TIMEOUT
    round_minutes: int = DEFAULT_ROUND_MINUTES
    concurrency: int = DEFAULT_CONCURRENCY
    push_retries: int = DEFAULT_PUSH_RETRIES
    clones_dir: Path = Path("accounts")
    shared_secret: bytes | None = None

    @property
    def is_sqs(self) -> bool:
        return bool(self.broker_url) and str(self.broker_url).split("://", 1)[0].lower() == "sqs"

    @property
    def fifo(self) -> bool:
        return self.is_sqs and self.queue.endswith(".fifo")

    @property
    def time_limit(self) -> float:
        return max(1.0, self.visibility_timeout * TIME_LIMIT_FRACTION)

    def transport(self) -> dict[str, Any]:
        """``broker_transport_options``: the section's options plus the visibility timeout."""
        return {**self.transport_options, "visibility_timeout": self.visibility_timeout}

    def account_secret_key(self, account_id: str) -> bytes:
        """The account's HMAC key for redacted secrets, the same on every worker.

        Derived from the shared secret and the account id, so one secret serves every account and
        no account's key reveals another's.
        """
        if self.shared_secret is None:
            raise ConfigError(
                "workers: set secret_key_env or secret_key_file: every worker must redact an account's "
                "secrets with the same key, or an account moving between workers would record every "
                "redacted value as changed"
            )
        label = f"gitmonkey secret.key for account {account_id}".encode()
        digest = hmac.new(self.shared_secret, label, hashlib.sha256).digest()
        assert len(digest) == SECRET_KEY_BYTES
        return digest


def worker_settings(config: Config, *, need_broker: bool = True, need_secret: bool = False,
                    environ: dict[str, str] | None = None) -> WorkerSettings:
    """The ``workers:`` section of ``config`` with its defaults; ``ConfigError`` names the key at fault."""
    section = config.workers or {}
    env = os.environ if environ is None else environ
    broker = _broker_url(section, env, need_broker)
    clones = section.get("clones_dir")
    clones_dir = (config.path.parent / clones).resolve() if clones else config.repos_dir
    return WorkerSettings(
        broker_url=broker,
        queue=section.get("queue", DEFAULT_QUEUE),
        transport_options=dict(section.get("transport_options") or {}),
        visibility_timeout=int(section.get("visibility_timeout", DEFAULT_VISIBILITY_TIMEOUT)),
        round_minutes=int(section.get("round_minutes", DEFAULT_ROUND_MINUTES)),
        concurrency=int(section.get("concurrency", DEFAULT_CONCURRENCY)),
        push_retries=int(section.get("push_retries", DEFAULT_PUSH_RETRIES)),
        clones_dir=clones_dir,
        # Read only where it is used (a worker): the scheduler's machine need not hold it.
        shared_secret=_shared_secret(section, env, config.path.parent) if need_secret else None,
    )


def _broker_url(section: dict[str, Any], env: Any, needed: bool) -> str | None:
    if section.get("broker_url"):
        url = str(section["broker_url"])
        if _has_password(url):
            # The schema refuses it too; this guards a config loaded without validation.
            raise ConfigError("workers.broker_url: a broker URL with a password must not be written in "
                              "the config file; put it in an environment variable and name it with "
                              "broker_url_env")
        return url
    name = section.get("broker_url_env")
    if name:
        value = env.get(name, "").strip()
        if not value:
            raise ConfigError(f"workers.broker_url_env: the environment variable {name} is not set (it "
                              "should hold the broker URL, e.g. sqs:// or redis://:PASSWORD@host:6379/0)")
        return value
    if needed:
        raise ConfigError("workers: set broker_url (e.g. sqs://) or broker_url_env (the name of an "
                          "environment variable holding the broker URL) to use the worker commands")
    return None


def _has_password(url: str) -> bool:
    try:
        return urlsplit(url).password is not None
    except ValueError:
        return "@" in url


def _shared_secret(section: dict[str, Any], env: Any, base: Path) -> bytes:
    if section.get("secret_key_env"):
        name = section["secret_key_env"]
        if not env.get(name, "").strip():
            raise ConfigError(f"workers.secret_key_env: the environment variable {name} is not set (it "
                              "should hold the secret every worker shares, at least 32 bytes)")
        value = env.get(name, "").strip().encode()
        where = f"workers.secret_key_env: the environment variable {name}"
    elif section.get("secret_key_file"):
        path = (base / section["secret_key_file"]).resolve()
        try:
            value = path.read_bytes().strip()
        except OSError as exc:
            raise ConfigError(f"workers.secret_key_file: cannot read {path}: {exc.strerror}") from exc
        where = f"workers.secret_key_file: {path}"
    else:
        raise ConfigError(
            "workers: set secret_key_env or secret_key_file (a secret of at least 32 bytes shared by "
            "every worker, e.g. from `openssl rand -base64 48`): every worker must redact an account's "
            "secrets with the same key, or an account moving between workers would record every redacted "
            "value as changed"
        )
    if len(value) < MIN_SECRET_BYTES:
        raise ConfigError(f"{where} holds {len(value)} bytes; the shared secret needs at least "
                          f"{MIN_SECRET_BYTES} (e.g. `openssl rand -base64 48`)")
    return value

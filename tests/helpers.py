"""Shared test helpers: configs for moto accounts, a moto server on 127.0.0.1, git inspection, fault
injection into boto3."""

from __future__ import annotations

import functools
import socket
import subprocess
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from botocore.awsrequest import AWSResponse

from gitmonkey.config import AccountConfig, Config, config_from_dict
from gitmonkey.model import Item
from gitmonkey.normalize import Normalized, normalize_item
from gitmonkey.read.aws import AccountSession, SliceContext
from gitmonkey.watchers import get_technology

ACCOUNT_ID = "123456789012"


def normalized(item: Item, secret_key: bytes = b"k") -> Normalized:
    """``item`` as the store writes it: its technology's ephemeral, secret and unordered paths applied."""
    return normalize_item(item, get_technology(item.technology), account_id=ACCOUNT_ID, secret_key=secret_key)


@functools.cache
def _builtin_rules() -> Any:
    from gitmonkey.audit.rules import RuleSet

    return RuleSet.load({}, base_dir=Path.cwd())


def builtin_findings(item: Item) -> list[tuple[str, str]]:
    """(rule id, details) of the built-in rules on ``item`` as stored, for the test account."""
    from datetime import UTC, datetime

    from gitmonkey.audit.context import AuditContext

    audit = AuditContext.from_config({}, account_id=ACCOUNT_ID, account_name="prod",
                                     now=datetime(2030, 1, 1, tzinfo=UTC))
    return [(f.rule_id, f.details) for f in _builtin_rules().evaluate(normalized(item).document, None, audit)]


def slice_context(region: str) -> SliceContext:
    """A watcher's view of the test account in ``region`` ("global" for IAM, S3...)."""
    return SliceContext(AccountSession(AccountConfig(name="test", id=ACCOUNT_ID)), region)


def make_config(tmp_path: Path, **overrides: Any) -> Config:
    raw: dict[str, Any] = {
        "repos_dir": "accounts",
        "accounts": [{"name": "prod", "id": ACCOUNT_ID, "regions": ["us-east-1", "eu-west-1"]}],
        "max_attempts": 1,
    }
    raw.update(overrides)
    path = tmp_path / "gitmonkey.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")  # the installed hooks read it
    return config_from_dict(raw, path)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (as the OS hands it out just now)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def moto_server(port: int | None = None) -> Iterator[str]:
    """A moto server (``ThreadedMotoServer``) on 127.0.0.1 at ``port`` (default: a free one) for the
    duration of the block; yields its endpoint URL, ``http://127.0.0.1:<port>``.

    The server starts empty: moto's state is the process's, so what an earlier server (or test) of
    this pytest worker created would otherwise still be there."""
    import urllib.request

    from moto.server import ThreadedMotoServer

    port = free_port() if port is None else port
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        endpoint = f"http://127.0.0.1:{port}"
        urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST"))  # noqa: S310
        yield endpoint
    finally:
        server.stop()


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout


def subjects(repo: Path, *paths: str) -> list[str]:
    """Subjects of the commits that touched ``paths`` (default: the items), newest first."""
    return git(repo, "log", "--format=%s", "--", *(paths or ("items/",))).splitlines()


def assert_clean(repo: Path) -> None:
    assert git(repo, "status", "--porcelain", "--untracked-files=all") == ""


class _Raw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._body


def error_response(status: int, code: str, message: str = "injected") -> AWSResponse:
    body = (
        f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code>"
        f"<Message>{message}</Message></Error><RequestId>x</RequestId></ErrorResponse>"
    ).encode()
    return AWSResponse("https://example.invalid", status, {}, _Raw(body))


@contextmanager
def inject(monkeypatch: pytest.MonkeyPatch, event: str, handler: Callable[..., Any]) -> Iterator[list[int]]:
    """Register ``handler`` on ``event`` (e.g. 'before-send.ec2.DescribeSecurityGroups') of every
    client the watchers create; yields a list counting how often it fired."""
    fired: list[int] = []
    original = SliceContext.client

    def counting(**kwargs: Any) -> Any:
        fired.append(1)
        return handler(**kwargs)

    def client(self: SliceContext, service: str, region: str | None = None) -> Any:
        made = original(self, service, region)
        made.meta.events.register(event, counting)
        return made

    with monkeypatch.context() as patch:
        patch.setattr(SliceContext, "client", client)
        yield fired


class SyncedAccount:
    """One moto account (``ACCOUNT_ID``, one region) synced into a real account repository with only
    the ``rules`` enabled; ``sync`` reads ``technologies`` (tests build the account with boto3)."""

    def __init__(self, tmp_path: Path, rules: Sequence[str], technologies: Sequence[str],
                 region: str = "us-east-1") -> None:
        enabled = ({"rule": r, "disabled": False} for r in rules)
        audit = {"overrides": [{"rule": "*", "disabled": True}, *enabled]}
        self.config = make_config(tmp_path, audit=audit,
                                  accounts=[{"name": "prod", "id": ACCOUNT_ID, "regions": [region]}])
        self.path = self.config.repo_path(self.config.accounts[0])
        self.technologies = list(technologies)

    def sync(self, technologies: Sequence[str] | None = None, now: datetime | None = None) -> None:
        from gitmonkey.sync import run_sync

        report = run_sync(self.config, technologies=list(technologies or self.technologies), now=now)
        assert report.exit_code == 0, report.to_dict()

    def issues(self, item: str) -> list[dict[str, Any]]:
        """The open issues of the item at path ``item`` (items/...)."""
        from gitmonkey.audit import issues as iss

        path = self.path / iss.issue_path_for(item)
        return yaml.safe_load(path.read_text())["issues"] if path.exists() else []

    def subject(self) -> str:
        return git(self.path, "log", "-1", "--format=%s").strip()



def assert_get_item_matches_listing(technology: str, region: str, *, missing: str) -> list[int]:
    """Every item ``list_items`` gives in ``region``, ``get_item`` gives alike (the same stored
    document and ephemeral values); an id that does not exist reads as None.

    Returns the API calls each single read cost, for the caller to bound.
    """
    tech = get_technology(technology)
    assert tech.get_item is not None, f"{technology} has no get_item"
    listed = list(tech.list_items(slice_context(region)))
    assert listed, f"{technology}: the fixture created no item to compare"
    calls = []
    for item in listed:
        ctx = slice_context(region)
        one = tech.get_item(ctx, item.id)
        assert one is not None, f"{technology} {item.id}: listed, but get_item found nothing"
        expected, got = normalized(item), normalized(one)
        assert got.content.decode() == expected.content.decode(), f"{technology} {item.id}"
        assert got.ephemeral == expected.ephemeral, f"{technology} {item.id}: ephemeral values differ"
        assert (one.id, one.name, one.arn, one.region) == (item.id, item.name, item.arn, item.region)
        calls.append(ctx.api_calls)
    assert tech.get_item(slice_context(region), missing) is None, f"{technology}: {missing!r} should be gone"
    return calls

"""AWS access for one account during one sync: credentials, counted clients, shared calls.

Credentials follow boto3's default chain, a named profile, or STS AssumeRole (with an
external id). ``endpoint_url`` points every client at a moto server or LocalStack.
"""

from __future__ import annotations

import functools
import threading
import urllib.parse
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

import boto3
import botocore.session
from botocore.config import Config as BotoConfig
from botocore.credentials import AssumeRoleCredentialFetcher, DeferredRefreshableCredentials
from botocore.exceptions import ConnectTimeoutError, ReadTimeoutError

from gitmonkey.config import (
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_MAX_ATTEMPTS,
    DEFAULT_READ_TIMEOUT,
    AccountConfig,
)
from gitmonkey.read.aws_responses import ResponseChecks

T = TypeVar("T")

HOME_REGION = "us-east-1"


class EndpointUnresponsiveError(Exception):
    """An endpoint that timed out on every attempt of an earlier call in this sync; calls to it
    fail at once instead of each waiting out its timeouts again."""


class AccountSession:
    """Thread-safe source of boto3 clients for one account.

    Clients are created once per (service, region) and shared. Results of account-wide calls that several
    technologies need (IAM's GetAccountAuthorizationDetails) are computed once via ``shared``.

    ``max_attempts`` counts attempts, the first included (botocore's ``max_attempts`` counts
    retries). Every 2xx answer is checked by :class:`~gitmonkey.read.aws_responses.ResponseChecks`
    (``always_returned``: "service:Operation" -> members every answer carries). An endpoint
    whose call timed out on every attempt is skipped for the rest of the session, so a sync
    against an endpoint that accepts connections and never answers ends after one call's
    attempts x ``read_timeout`` (plus backoff) per endpoint, not after every call's.
    """

    def __init__(
        self,
        account: AccountConfig,
        *,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        read_timeout: float = DEFAULT_READ_TIMEOUT,
        always_returned: Mapping[str, Iterable[str]] | None = None,
        session_name: str = "gitmonkey",
    ) -> None:
        self.account = account
        self._session_name = session_name
        self._boto_config = BotoConfig(
            retries={"mode": "adaptive", "total_max_attempts": max_attempts},
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            user_agent_extra="gitmonkey",
        )
        self._checks = ResponseChecks(max_attempts, always_returned)
        self._lock = threading.RLock()
        self._clients: dict[tuple[str, str], Any] = {}
        self._session: boto3.Session | None = None
        self._shared: dict[Any, _Shared] = {}
        self._unresponsive: dict[str, str] = {}

    def _boto_session(self) -> boto3.Session:
        with self._lock:
            if self._session is None:
                self._session = self._make_session()
            return self._session

    def _make_session(self) -> boto3.Session:
        base = boto3.Session(profile_name=self.account.profile) if self.account.profile else boto3.Session()
        if not self.account.role_arn:
            return base
        # Assumed-role credentials last an hour; botocore refreshes them before they expire, so a
        # long sync does not fail half-way with ExpiredToken.
        extra: dict[str, Any] = {"RoleSessionName": self._session_name}
        if self.account.external_id:
            extra["ExternalId"] = self.account.external_id
        fetcher = AssumeRoleCredentialFetcher(
            client_creator=functools.partial(
                base.client,
                region_name=HOME_REGION,
                endpoint_url=self.account.endpoint_url,
                config=self._boto_config,
            ),
            source_credentials=base.get_credentials(),
            role_arn=self.account.role_arn,
            extra_args=extra,
        )
        botocore_session = botocore.session.Session()
        # botocore has no public setter for ready-made credentials on a session.
        botocore_session._credentials = DeferredRefreshableCredentials(
            refresh_using=fetcher.fetch_credentials, method="assume-role"
        )
        return boto3.Session(botocore_session=botocore_session)

    def client(self, service: str, region: str, calls: Counter[str] | None = None) -> Any:
        """The account's client for ``service`` in ``region``, created once and shared by all slices.

        botocore clients are thread-safe, and creating one costs tens of milliseconds of CPU under
        the session lock, so each slice making its own would serialise the pool. API calls are
        added to ``calls`` (or to nothing when None): the counter of the slice that runs in this
        thread, since a thread reads one slice at a time.
        """
        _current.calls = calls
        key = (service, region)
        with self._lock:
            client = self._clients.get(key)
            if client is None:
                client = self._boto_session().client(
                    service,
                    region_name=region,
                    endpoint_url=self.account.endpoint_url,
                    config=self._boto_config,
                )
                client.meta.events.register("before-call.*.*", _count_call)
                client.meta.events.register("before-send.*.*", self._refuse_unresponsive)
                client.meta.events.register("after-call-error.*.*", self._note_timeout)
                self._checks.register(client.meta.events)
                self._clients[key] = client
        return client

    def _refuse_unresponsive(self, request: Any, **_: Any) -> None:
        host = urllib.parse.urlsplit(request.url).netloc
        reason = self._unresponsive.get(host)
        if reason is not None:
            raise EndpointUnresponsiveError(f"{host} skipped for the rest of this sync: {reason}")

    def _note_timeout(self, exception: BaseException, **_: Any) -> None:
        if isinstance(exception, ConnectTimeoutError | ReadTimeoutError):
            url = exception.kwargs.get("endpoint_url") or ""
            host = urllib.parse.urlsplit(url).netloc
            if host:
                with self._lock:
                    reason = f"an earlier call timed out on every attempt ({exception})"
                    self._unresponsive.setdefault(host, reason)

    def shared(self, key: Any, compute: Callable[[], T]) -> T:
        """Run ``compute`` once per key for the whole sync; concurrent callers wait for it.

        A failure is shared too: every slice that needed the result fails with the same error.
        """
        with self._lock:
            entry = self._shared.get(key)
            if entry is None:
                entry = self._shared[key] = _Shared()
                owner = True
            else:
                owner = False
        if owner:
            try:
                entry.value = compute()
            except BaseException as exc:
                entry.error = exc
            finally:
                entry.done.set()
        entry.done.wait()
        if entry.error is not None:
            raise entry.error
        return entry.value

    def new_round(self) -> None:
        """Forget what ``shared`` computed and which endpoints were unresponsive, keeping clients
        and credentials: a long-lived session (the listener's) reads fresh state each round."""
        with self._lock:
            self._shared.clear()
            self._unresponsive.clear()

    def enabled_regions(self) -> list[str]:
        ec2 = self.client("ec2", HOME_REGION)
        regions = ec2.describe_regions(AllRegions=False)["Regions"]
        return sorted(r["RegionName"] for r in regions)


@functools.cache
def offered_regions(service: str) -> frozenset[str] | None:
    """The regions, in every partition, where botocore knows an endpoint of ``service``; None
    when botocore does not know the service (then nothing is filtered).

    Glacier, SES and newer services are not offered in every region: reading them there fails
    with a connection error on every sync, a slice failed for ever.
    """
    session = botocore.session.get_session()
    if service not in session.get_available_services():
        return None
    regions: set[str] = set()
    for partition in session.get_available_partitions():
        regions.update(session.get_available_regions(service, partition))
    return frozenset(regions) or None


_current = threading.local()


_count_lock = threading.Lock()


def _count_call(model: Any, **_: Any) -> None:
    calls: Counter[str] | None = getattr(_current, "calls", None)
    if calls is not None:
        with _count_lock:  # a slice may read on several threads (S3's per-bucket pool)
            calls[f"{model.service_model.service_name}:{model.name}"] += 1


class _Shared:
    def __init__(self) -> None:
        self.done = threading.Event()
        self.value: Any = None
        self.error: BaseException | None = None


class SliceContext:
    """What a watcher's ``list_items`` gets: the region to read and counted clients."""

    def __init__(self, session: AccountSession, region: str) -> None:
        self.session = session
        self.region = region
        self.account_id = session.account.id
        self.calls: Counter[str] = Counter()

    @property
    def client_region(self) -> str:
        """The region to send calls to: global technologies use the home region."""
        return HOME_REGION if self.region == "global" else self.region

    def client(self, service: str, region: str | None = None) -> Any:
        return self.session.client(service, region or self.client_region, self.calls)

    def shared(self, key: Any, compute: Callable[[], T]) -> T:
        return self.session.shared(key, compute)

    @property
    def api_calls(self) -> int:
        return sum(self.calls.values())

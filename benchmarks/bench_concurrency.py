"""Concurrent slices: a multi-region sync against the same sync run one slice at a time.

Figure ``sync_concurrency``. One moto account with security groups in six regions plus a few IAM
users and S3 buckets is synced twice by a real ``run_sync``, each into a fresh repository
directory: once with ``concurrency: 8`` and once with ``concurrency: 1`` (the baseline, the sum of
the slices). Every AWS call first sleeps ``LATENCY_S`` in a botocore ``before-send`` handler: the
sleep stands for the network round trip to AWS, so the figure reflects network-bound reads rather
than moto's in-process CPU time. Issue 2's target is that the concurrent sync costs about its
slowest slice, not the sum.

``slowest_slice_s`` and ``sum_of_slices_s`` are the slice times of the sequential run, where each
slice runs alone; ``concurrent_over_slowest`` compares the concurrent sync with that slowest
slice. ``concurrent_run_*`` are the slice times inside the concurrent run, inflated by contention:
client creation is serialised by ``AccountSession``'s lock (``client_creation_s`` is its total
in the sequential run), and moto answers in-process, so its CPU shares the GIL with the sync's,
which real AWS would not. Each mode runs ``REPEAT`` times; the fastest run of each is reported.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest import mock

import boto3
import yaml
from moto import mock_aws

from gitmonkey.config import config_from_dict
from gitmonkey.demo import simulated_environment
from gitmonkey.read.aws import AccountSession
from gitmonkey.sync import SliceOutcome, SyncReport, run_sync

ACCOUNT_ID = "123456789012"
REGIONS = ("us-east-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-southeast-1", "sa-east-1")
TECHNOLOGIES = ("ec2.security_group", "iam.user", "s3.bucket")
GROUPS_PER_REGION, USERS, BUCKETS = 20, 5, 2
LATENCY_S = 0.05
REPEAT = 2
CONCURRENCY = 8
NOTE = (f"every AWS call sleeps {LATENCY_S}s in a botocore before-send handler, standing for the "
        "network round trip; moto itself answers in-process")


def seed_account() -> None:
    """Create the synthetic account in the active moto backend."""
    for region in REGIONS:
        ec2 = boto3.client("ec2", region_name=region)
        for n in range(GROUPS_PER_REGION):
            group_id = ec2.create_security_group(GroupName=f"sg-{n:02d}", Description=f"bench {n}")["GroupId"]
            ec2.authorize_security_group_ingress(GroupId=group_id, IpPermissions=[
                {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443,
                 "IpRanges": [{"CidrIp": f"10.{n}.0.0/16"}]}])
    iam = boto3.client("iam", region_name="us-east-1")
    for n in range(USERS):
        iam.create_user(UserName=f"user-{n}")
    s3 = boto3.client("s3", region_name="us-east-1")
    for n in range(BUCKETS):
        s3.create_bucket(Bucket=f"bench-concurrency-{n}")


def _network_latency(**_: Any) -> None:
    time.sleep(LATENCY_S)


class _Clients:
    """Patches ``AccountSession.client``: adds the latency, and times client creation."""

    def __init__(self) -> None:
        self.original = AccountSession.client
        self.created = 0
        self.seconds = 0.0

    def patch(self) -> Any:
        def client(session: AccountSession, *args: Any, **kwargs: Any) -> Any:
            clock = time.monotonic()
            made = self.original(session, *args, **kwargs)
            self.seconds += time.monotonic() - clock
            self.created += 1
            # First, so it runs before moto's own before-send handler answers the request.
            made.meta.events.register_first("before-send.*.*", _network_latency)
            return made

        return mock.patch.object(AccountSession, "client", client)


@dataclass
class _Run:
    seconds: float
    report: SyncReport
    clients: int
    client_seconds: float

    @property
    def slices(self) -> list[SliceOutcome]:
        return [s for a in self.report.accounts for s in a.slices]


def _sync(root: Path, name: str, concurrency: int, clients: _Clients) -> _Run:
    raw = {
        "repos_dir": f"repos-{name}",
        "accounts": [{"name": "bench", "id": ACCOUNT_ID, "regions": list(REGIONS)}],
        "technologies": list(TECHNOLOGIES),
        "concurrency": concurrency,
        "max_attempts": 1,
    }
    path = root / f"gitmonkey-{name}.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    clients.created, clients.seconds = 0, 0.0
    clock = time.monotonic()
    report = run_sync(config_from_dict(raw, path))
    seconds = time.monotonic() - clock
    failed = [f"{s.key}: {s.error}" for a in report.accounts for s in a.failed_slices]
    errors = [a.error for a in report.accounts if a.error]
    if failed or errors:
        raise RuntimeError(f"the benchmark sync failed: {'; '.join(errors + failed)}")
    return _Run(seconds, report, clients.created, clients.seconds)


def run() -> list[dict[str, Any]]:
    simulated_environment()  # fake credentials and a lean moto, never a real account
    clients = _Clients()
    concurrent: list[_Run] = []
    sequential: list[_Run] = []
    with mock_aws(), tempfile.TemporaryDirectory(prefix="gitmonkey-bench-") as tmp, clients.patch():
        seed_account()
        for n in range(REPEAT):
            concurrent.append(_sync(Path(tmp), f"concurrent-{n}", CONCURRENCY, clients))
            sequential.append(_sync(Path(tmp), f"sequential-{n}", 1, clients))
    best = min(concurrent, key=lambda r: r.seconds)
    base = min(sequential, key=lambda r: r.seconds)
    items = {sum(a.items for a in r.report.accounts) for r in concurrent + sequential}
    if len(items) != 1:
        raise RuntimeError(f"the syncs read different numbers of items: {sorted(items)}")
    slowest = max(s.seconds for s in base.slices)
    return [{
        "name": "sync_concurrency",
        "regions": len(REGIONS),
        "slices": len(base.slices),
        "items": items.pop(),
        "api_calls": sum(s.api_calls for s in base.slices),
        "concurrency": CONCURRENCY,
        "concurrent_s": round(best.seconds, 3),
        "sequential_s": round(base.seconds, 3),
        "ratio": round(best.seconds / base.seconds, 3),
        "slowest_slice_s": round(slowest, 3),
        "sum_of_slices_s": round(sum(s.seconds for s in base.slices), 3),
        "concurrent_over_slowest": round(best.seconds / slowest, 3),
        "concurrent_run_slowest_slice_s": round(max(s.seconds for s in best.slices), 3),
        "concurrent_run_sum_of_slices_s": round(sum(s.seconds for s in best.slices), 3),
        "clients_created": best.clients,
        "client_creation_s": round(base.client_seconds, 3),
        "repeat": REPEAT,
        "latency_per_call_s": LATENCY_S,
        "note": NOTE,
        "target": "concurrent ≈ slowest slice, not the sum",
    }]

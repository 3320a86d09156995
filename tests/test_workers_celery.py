"""Real Celery workers (``python -m gitmonkey worker``) against a moto server on 127.0.0.1 whose SQS
is the broker (a FIFO queue, the account id as message group) and whose AWS APIs are an
organization's accounts (assumed roles map to the member accounts); bare git repositories are the
accounts' remotes.

One scenario, since every step needs the workers and the organization of the steps before:

1. round 1 (``gitmonkey enqueue``) with two workers: every account synced and pushed once;
2. round 2 enqueued twice, as two schedulers would: SQS drops the duplicates, every account
   synced once, one commit per change;
3. round 3 with slow pushes (the remotes' pre-receive hook sleeps): one worker is SIGKILLed (its
   whole process group) while its push is in flight, after its commit; the task is delivered
   again after the visibility timeout, to the other worker, and the round completes with every
   remote consistent and no change recorded twice; the killed worker, restarted alone on its old
   clones and handed that account again, drops its unpushed commit and records nothing;
4. an account created in the organization is discovered; two rounds enqueued back to back give
   each account two tasks at once, which the FIFO group runs one after the other (the AWS
   endpoint slowed down by a delaying proxy in front of moto, so that overlaps would show).

5. ``gitmonkey schedule`` enqueues a round as it starts and stops on SIGTERM.

Over all of it: the two tasks of one account never overlap (from the workers' ``gitmonkey-task``
log lines), and every remote only ever moved forward.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml

pytest.importorskip("celery")
pytest.importorskip("pycurl")

from gitmonkey.config import load_config
from gitmonkey.distributed.rounds import enqueue_round, round_id
from tests.helpers import free_port, git, moto_server
from tests.slow_proxy import SlowProxy

MANAGEMENT = "123456789012"
ROLE = "OrganizationAccountAccessRole"
QUEUE = "gitmonkey-sync.fifo"
VISIBILITY = 12
"""Seconds: longer than the slowest task here (the slowed-down round takes a few seconds)."""
SECRET = "w" * 48
DONE_TIMEOUT = 90.0
POLL_SECONDS = 1
PUSH_SECONDS = 3
"""How long a push waits in the remote's pre-receive hook while a worker is killed."""


class Organization:
    """The organization on the moto server: the management account and members, each with users."""

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint
        self.org = boto3.client("organizations", endpoint_url=endpoint, region_name="us-east-1")
        self.org.create_organization(FeatureSet="ALL")
        self.ids = [MANAGEMENT]

    def add_account(self, name: str) -> str:
        status = self.org.create_account(Email=f"{name}@example.com", AccountName=name)["CreateAccountStatus"]
        self.ids.append(status["AccountId"])
        return status["AccountId"]

    def iam(self, account_id: str) -> Any:
        if account_id == MANAGEMENT:
            return boto3.client("iam", endpoint_url=self.endpoint, region_name="us-east-1")
        sts = boto3.client("sts", endpoint_url=self.endpoint, region_name="us-east-1")
        creds = sts.assume_role(RoleArn=f"arn:aws:iam::{account_id}:role/{ROLE}",
                                RoleSessionName="test")["Credentials"]
        return boto3.client("iam", endpoint_url=self.endpoint, region_name="us-east-1",
                            aws_access_key_id=creds["AccessKeyId"],
                            aws_secret_access_key=creds["SecretAccessKey"],
                            aws_session_token=creds["SessionToken"])

    def add_user_everywhere(self, name: str) -> None:
        for account_id in self.ids:
            self.iam(account_id).create_user(UserName=name)


class Cluster:
    """The config files, remotes and worker processes; every process is killed at the end."""

    def __init__(self, root: Path, moto_port: int, aws_endpoint: str) -> None:
        self.root = root
        self.remotes = root / "remotes"
        self.remotes.mkdir()
        self.workers: dict[str, subprocess.Popen[bytes]] = {}
        self.logs: list[Path] = []
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("GITMONKEY_")}
        self.env["GM_WORKER_SECRET"] = SECRET
        self.configs = {}
        for worker in ("w1", "w2"):
            raw = {
                "repos_dir": "accounts",
                "max_attempts": 2,
                "technologies": ["iam.user"],
                "organization": {
                    "management": {"id": MANAGEMENT},
                    "endpoint_url": aws_endpoint,
                    "regions": ["us-east-1"],
                    "remote": f"{self.remotes}/{{id}}.git",
                },
                "workers": {
                    "broker_url": f"sqs://127.0.0.1:{moto_port}",
                    "queue": QUEUE,
                    "visibility_timeout": VISIBILITY,
                    "secret_key_env": "GM_WORKER_SECRET",
                    "clones_dir": f"clones-{worker}",
                    "transport_options": {"region": "us-east-1", "is_secure": False,
                                          "wait_time_seconds": POLL_SECONDS, "polling_interval": 0.2},
                },
            }
            path = root / f"{worker}.yaml"
            path.write_text(yaml.safe_dump(raw), encoding="utf-8")
            self.configs[worker] = path
            self.raw = raw

    def remote(self, account_id: str) -> Path:
        path = self.remotes / f"{account_id}.git"
        if not path.exists():
            subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(path)], check=True)
        return path

    def start(self, worker: str, label: str | None = None) -> None:
        log = self.root / f"{label or worker}.log"
        self.logs.append(log)
        with log.open("wb") as out:
            self.workers[worker] = subprocess.Popen(
                [sys.executable, "-m", "gitmonkey", "worker", "--config", str(self.configs[worker]),
                 "--concurrency", "1", "--hostname", f"{label or worker}@test"],
                cwd=self.root, env=self.env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            )

    def kill(self, worker: str, sig: int = signal.SIGKILL) -> None:
        proc = self.workers.pop(worker)
        if proc.poll() is None:
            os.killpg(proc.pid, sig)
        proc.wait(timeout=30)

    def stop_all(self) -> None:
        for worker in list(self.workers):
            proc = self.workers[worker]
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(timeout=15)
            self.workers.pop(worker)

    def records(self) -> list[dict[str, Any]]:
        """Every ``gitmonkey-task`` line of every worker log, with the log it came from."""
        found = []
        for log in self.logs:
            for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
                marker = line.find("gitmonkey-task {")
                if marker >= 0:
                    found.append({**json.loads(line[marker + len("gitmonkey-task "):]), "log": log.stem})
        return found

    def tail(self) -> str:
        return "\n".join(f"--- {log.name}\n" + log.read_text(errors="replace")[-3000:] for log in self.logs)

    def wait_for(self, what: str, predicate: Callable[[list[dict[str, Any]]], bool],
                 timeout: float = DONE_TIMEOUT) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            records = self.records()
            if predicate(records):
                return records
            failed = [r for r in records if r["event"] == "failed"]
            assert not failed, f"a task failed: {failed}\n{self.tail()}"
            time.sleep(0.3)
        raise AssertionError(f"timed out waiting for {what}\n{self.tail()}")

    def running(self, account_id: str) -> str:
        """The worker log whose last task, still running, is of ``account_id``."""
        last: dict[str, dict[str, Any]] = {}
        for record in sorted(self.records(), key=lambda r: r["at"]):
            last[record["log"]] = record
        found = [log for log, r in last.items() if r["event"] == "start" and r["account_id"] == account_id]
        assert len(found) == 1, f"{account_id} is not running on one worker: {last}"
        return found[0]

    def slow_pushes(self, seconds: float | None) -> None:
        """Make every remote's pre-receive hook mark its repository (``receiving``) and sleep, as a
        slow forge would; None removes the hook."""
        for remote in self.remotes.glob("*.git"):
            hook = remote / "hooks" / "pre-receive"
            (remote / "receiving").unlink(missing_ok=True)
            if seconds is None:
                hook.unlink(missing_ok=True)
                continue
            hook.write_text(f"#!/bin/sh\ntouch receiving\nsleep {seconds}\n")
            hook.chmod(0o755)

    def wait_for_push(self) -> str:
        """The id of an account whose push is in flight (its remote's pre-receive hook started)."""
        deadline = time.monotonic() + DONE_TIMEOUT
        while time.monotonic() < deadline:
            for remote in self.remotes.glob("*.git"):
                if (remote / "receiving").exists():
                    return remote.name.removesuffix(".git")
            time.sleep(0.05)
        raise AssertionError(f"no push started\n{self.tail()}")

    def enqueue_cli(self) -> dict[str, Any]:
        command = [sys.executable, "-m", "gitmonkey", "enqueue", "--config", str(self.configs["w1"]),
                   "--format", "json"]
        proc = subprocess.run(command, cwd=self.root, env=self.env, capture_output=True, text=True,
                              timeout=120)
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout)

    def schedule_one_round(self, avoid: set[str]) -> str:
        """Run ``gitmonkey schedule`` until it enqueued its first round (at once), then SIGTERM it; the
        round's id (``round_minutes`` chosen so that it differs from those in ``avoid``)."""
        now = datetime.now(UTC)
        minutes = next(m for m in (7, 11, 13, 17) if round_id(now, m) not in avoid and
                       round_id(now + timedelta(seconds=30), m) == round_id(now, m))
        path = self.root / "scheduler.yaml"
        raw = {**self.raw, "workers": {**self.raw["workers"], "round_minutes": minutes}}
        path.write_text(yaml.safe_dump(raw), encoding="utf-8")
        proc = subprocess.Popen([sys.executable, "-m", "gitmonkey", "schedule", "--config", str(path)],
                                cwd=self.root, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, start_new_session=True)
        try:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            assert "task(s) enqueued" in line, line + proc.stdout.read()
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=30) == 0
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=15)
        return line.split("round ", 1)[1].split(":", 1)[0]

    def enqueue(self, now: datetime, accounts: tuple[str, ...] | list[str] = ()) -> str:
        report = enqueue_round(load_config(self.configs["w1"]), now, accounts=accounts)
        assert report.exit_code == 0, report.to_dict()
        return report.round


def done_in(records: list[dict[str, Any]], round_id: str) -> dict[str, int]:
    """account id -> number of tasks done for ``round_id``."""
    counts: dict[str, int] = defaultdict(int)
    for record in records:
        if record["event"] == "done" and record["round"] == round_id:
            counts[record["account_id"]] += 1
    return counts


def intervals(records: list[dict[str, Any]], killed_at: dict[str, float]
              ) -> dict[str, list[tuple[float, float]]]:
    """account id -> (start, end) of each of its tasks; a task killed mid-way ends when its worker died."""
    open_tasks: dict[tuple[str, str], dict[str, Any]] = {}
    spans: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for record in sorted(records, key=lambda r: r["at"]):
        key = (record["log"], record["worker"])
        if record["event"] == "start":
            assert key not in open_tasks, f"{key} started a task before ending the last one"
            open_tasks[key] = record
        else:
            start = open_tasks.pop(key)
            assert start["account_id"] == record["account_id"]
            spans[record["account_id"]].append((start["at"], record["at"]))
    for (log, _worker), start in open_tasks.items():
        spans[start["account_id"]].append((start["at"], killed_at[log]))
    return spans


def item_subjects(remote: Path) -> list[str]:
    return git(remote, "log", "--format=%s", "main", "--", "items/").splitlines()


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[Cluster, Organization, SlowProxy]]:
    port = free_port()
    cluster = None
    with moto_server(port) as endpoint:
        try:
            sqs = boto3.client("sqs", endpoint_url=endpoint, region_name="us-east-1")
            sqs.create_queue(QueueName=QUEUE,
                             Attributes={"FifoQueue": "true", "VisibilityTimeout": str(VISIBILITY)})
            with SlowProxy(port) as proxy:
                cluster = Cluster(tmp_path, port, proxy.url)
                yield cluster, Organization(endpoint), proxy
        finally:
            if cluster is not None:
                cluster.stop_all()


def test_two_workers_sync_every_account_once_per_round_survive_a_kill_and_never_overlap(world) -> None:
    cluster, organization, proxy = world
    for name in ("alpha", "beta"):
        organization.add_account(name)
    for account_id in organization.ids:
        cluster.remote(account_id)
    organization.add_user_everywhere("user-1")
    cluster.start("w1")
    cluster.start("w2")
    heads: dict[str, list[str]] = defaultdict(list)

    def record_heads() -> None:
        for account_id in organization.ids:
            heads[account_id].append(git(cluster.remote(account_id), "rev-parse", "main").strip())

    # 1. A round enqueued by the CLI: every account synced and pushed once.
    first = cluster.enqueue_cli()
    assert sorted(t["account_id"] for t in first["tasks"]) == sorted(organization.ids)
    assert {t["message_group_id"] == t["account_id"] for t in first["tasks"]} == {True}
    records = cluster.wait_for("round 1", lambda r: len(done_in(r, first["round"])) == 3)
    assert done_in(records, first["round"]) == dict.fromkeys(organization.ids, 1)
    for account_id in organization.ids:
        assert item_subjects(cluster.remote(account_id)) == ["baseline: 1 items in 1 slices"]
    record_heads()

    # 2. The same round enqueued twice (two schedulers): SQS drops the duplicates.
    organization.add_user_everywhere("user-2")
    second_at = datetime(2030, 1, 1, 2, tzinfo=UTC)
    second = cluster.enqueue(second_at)
    assert cluster.enqueue(second_at) == second
    records = cluster.wait_for("round 2", lambda r: len(done_in(r, second)) == 3)
    time.sleep(2 * POLL_SECONDS + 0.5)  # time for a duplicate, were there one, to be received
    assert done_in(cluster.records(), second) == dict.fromkeys(organization.ids, 1)
    for account_id in organization.ids:
        assert item_subjects(cluster.remote(account_id))[0] == "iam.user global user-2: added"
    record_heads()

    # 3. A worker SIGKILLed mid-account, its push in flight (the remote's pre-receive hook is slow):
    #    its clone holds a commit the remote never got. The task comes back after the visibility
    #    timeout, to the other worker, and the round completes.
    names = {r["account_id"]: r["account"] for r in records if r["event"] == "done"}
    organization.add_user_everywhere("user-3")
    cluster.slow_pushes(PUSH_SECONDS)
    third = cluster.enqueue(datetime(2030, 1, 1, 3, tzinfo=UTC))
    pushing = cluster.wait_for_push()
    victim = cluster.running(pushing)
    cluster.kill(victim)
    killed_at = {victim: time.time()}
    cluster.slow_pushes(None)
    clone = cluster.root / f"clones-{victim}" / names[pushing]
    unpushed = git(clone, "rev-list", "main", f"^{git(cluster.remote(pushing), 'rev-parse', 'main').strip()}")
    assert unpushed.split(), "killed between its commit and its push"
    records = cluster.wait_for("round 3 after the kill", lambda r: len(done_in(r, third)) == 3,
                               timeout=DONE_TIMEOUT + VISIBILITY)
    assert done_in(records, third) == dict.fromkeys(organization.ids, 1)
    for account_id in organization.ids:
        subjects = item_subjects(cluster.remote(account_id))
        assert subjects.count("iam.user global user-3: added") == 1, subjects
    record_heads()

    # The killed worker, restarted alone on its old clones and handed that account again, drops
    # the commit it never pushed and records nothing twice.
    other = ({"w1", "w2"} - {victim}).pop()
    cluster.kill(other, signal.SIGTERM)
    # Its last long poll (wait_time_seconds) would still take a message sent now, for a visibility timeout.
    time.sleep(POLL_SECONDS + 0.5)
    cluster.start(victim, f"{victim}-restarted")
    again = cluster.enqueue(datetime(2030, 1, 1, 10, tzinfo=UTC), accounts=[pushing])
    records = cluster.wait_for("the killed account again", lambda r: len(done_in(r, again)) == 1)
    outcome = next(r for r in records if r["event"] == "done" and r["round"] == again)
    assert (outcome["log"], outcome["replayed_commits"], outcome["commits"]) == (
        f"{victim}-restarted", len(unpushed.split()), 0)
    assert git(clone, "rev-parse", "main") == git(cluster.remote(pushing), "rev-parse", "main")
    cluster.start(other, f"{other}-restarted")
    record_heads()

    # 4. A new account in the organization; two rounds at once: each account's tasks in turn.
    gamma = organization.add_account("gamma")
    cluster.remote(gamma)
    organization.iam(gamma).create_user(UserName="user-1")
    organization.add_user_everywhere("user-4")
    proxy.delay = 0.2
    fourth = cluster.enqueue(datetime(2030, 1, 1, 4, tzinfo=UTC))
    fifth = cluster.enqueue(datetime(2030, 1, 1, 5, tzinfo=UTC))
    records = cluster.wait_for("rounds 4 and 5",
                               lambda r: len(done_in(r, fourth)) == 4 and len(done_in(r, fifth)) == 4)
    assert done_in(records, fourth) == done_in(records, fifth) == dict.fromkeys(organization.ids, 1)
    assert item_subjects(cluster.remote(gamma))[-1] == "baseline: 2 items in 1 slices", "gamma was picked up"
    record_heads()

    # `gitmonkey schedule` enqueues a round as it starts, and stops on SIGTERM.
    scheduled = cluster.schedule_one_round({first["round"], second, third, again, fourth, fifth})
    records = cluster.wait_for("the scheduled round", lambda r: len(done_in(r, scheduled)) == 4)
    assert done_in(records, scheduled) == dict.fromkeys(organization.ids, 1)
    record_heads()

    # Over every round: one task of an account at a time, anywhere.
    for account_id, spans in intervals(cluster.records(), killed_at).items():
        spans.sort()
        for (_, end), (start, _) in itertools.pairwise(spans):
            assert start >= end, f"two tasks of {account_id} overlapped: {spans}"
    started = {x["log"] for x in cluster.records() if x["event"] == "start"}
    assert started >= {"w1", "w2"}, "both workers took tasks"
    # Every remote: intact, only ever moved forward, each change recorded once, nothing merged.
    for account_id in organization.ids:
        remote = cluster.remote(account_id)
        assert git(remote, "fsck", "--strict").strip() == ""
        for old, new in itertools.pairwise(heads[account_id]):
            assert git(remote, "merge-base", "--is-ancestor", old, new) == ""
        subjects = item_subjects(remote)
        assert len(subjects) == len(set(subjects)), subjects
        assert git(remote, "rev-list", "--merges", "main").strip() == ""

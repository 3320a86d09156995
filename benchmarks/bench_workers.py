"""Workers: one round over N simulated accounts with 1, 2 and 4 worker processes, and the broker's cost.

Figure ``workers_round``. A moto server on 127.0.0.1 is both the broker (its SQS, a FIFO queue, as
``gitmonkey worker`` uses it in production) and the AWS of ``ACCOUNTS`` accounts (assumed roles
map to distinct moto accounts), each with IAM users and security groups in two regions; bare git
repositories are their remotes. Every AWS call first goes through a proxy that waits
``LATENCY_S``, standing for the network round trip to AWS (as ``bench_concurrency`` does with a
botocore handler, which a separate worker process cannot be given); broker calls go to moto
directly.

For each worker count, that many ``python -m gitmonkey worker --concurrency 1`` processes are
started with their own clones; a first round fills the clones (not measured), then ``REPEAT``
rounds each add one IAM user per account and are timed from the enqueue to the last task done
(the workers' ``gitmonkey-task`` log lines); the fastest is reported, and its ratio to the 1-worker
time. ``broker_overhead_per_task_s`` is, in the 1-worker rounds, the round's wall time minus the
tasks' own time (``run_account``), per task: receiving and deleting the message, Celery's
dispatch to the pool process, reading the config. ``first_task_latency_s`` is the time from the
enqueue to the first task's start with an idle worker. ``accounts_per_worker_hour`` is 3600 over
the 1-worker round's time per account: the sizing figure for accounts like these.

Figure ``workers_events``: with the 1-worker set running, ``EVENTS`` security-group events handed over
by `gitmonkey listen` (``events.record_on: workers``), one at a time: event-to-commit-on-the-remote
latency, against that worker's sync of one account, and AWS calls per event task.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import yaml

ACCOUNTS = 8
WORKERS = (1, 2, 4)
REPEAT = 2
LATENCY_S = 0.05
USERS, GROUPS_PER_REGION = 4, 3
REGIONS = ("us-east-1", "eu-west-1")
TECHNOLOGIES = ("iam.user", "ec2.security_group")
QUEUE = "gitmonkey-bench.fifo"
VISIBILITY = 600
POLL_SECONDS = 1
ROUND_TIMEOUT = 180.0
EVENTS = 16
NOTE = (f"every AWS call waits {LATENCY_S}s in a proxy (the round trip to AWS); the broker is moto's SQS "
        "on 127.0.0.1 without added latency (real SQS adds ~10-30 ms per call); worker processes share "
        f"{os.cpu_count()} cores with moto")


def _account_client(service: str, endpoint: str, account_id: str, region: str = "us-east-1") -> Any:
    sts = boto3.client("sts", endpoint_url=endpoint, region_name="us-east-1")
    creds = sts.assume_role(RoleArn=f"arn:aws:iam::{account_id}:role/gitmonkey", RoleSessionName="bench")
    c = creds["Credentials"]
    return boto3.client(service, endpoint_url=endpoint, region_name=region,
                        aws_access_key_id=c["AccessKeyId"], aws_secret_access_key=c["SecretAccessKey"],
                        aws_session_token=c["SessionToken"])


def _seed(endpoint: str, account_ids: list[str]) -> None:
    for account_id in account_ids:
        iam = _account_client("iam", endpoint, account_id)
        for n in range(USERS):
            iam.create_user(UserName=f"user-{n}")
        for region in REGIONS:
            ec2 = _account_client("ec2", endpoint, account_id, region)
            for n in range(GROUPS_PER_REGION):
                ec2.create_security_group(GroupName=f"sg-{n}", Description="bench")


class _Bench:
    def __init__(self, root: Path, moto_port: int, aws_endpoint: str, account_ids: list[str]) -> None:
        self.root = root
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("GITMONKEY_")}
        self.env.update(GM_BENCH_SECRET="b" * 48, GIT_CONFIG_GLOBAL=os.devnull, GIT_CONFIG_NOSYSTEM="1")
        self.moto_port = moto_port
        self.accounts = []
        for n, account_id in enumerate(account_ids):
            remote = root / "remotes" / f"{account_id}.git"
            subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(remote)], check=True)
            self.accounts.append({"name": f"acct-{n:02d}", "id": account_id, "regions": list(REGIONS),
                                  "role_arn": f"arn:aws:iam::{account_id}:role/gitmonkey",
                                  "endpoint_url": aws_endpoint, "remote": str(remote)})
        self.procs: list[subprocess.Popen[bytes]] = []
        self.logs: list[Path] = []

    def config(self, label: str) -> Path:
        raw = {
            "repos_dir": "accounts", "max_attempts": 2, "technologies": list(TECHNOLOGIES),
            "accounts": self.accounts,
            "workers": {"broker_url": f"sqs://127.0.0.1:{self.moto_port}", "queue": QUEUE,
                        "visibility_timeout": VISIBILITY, "secret_key_env": "GM_BENCH_SECRET",
                        "clones_dir": f"clones-{label}",
                        "transport_options": {"region": "us-east-1", "is_secure": False,
                                              "wait_time_seconds": POLL_SECONDS, "polling_interval": 0.1}},
        }
        path = self.root / f"{label}.yaml"
        path.write_text(yaml.safe_dump(raw), encoding="utf-8")
        return path

    def start_workers(self, count: int) -> Path:
        config = self.config(f"w{count}")
        self.logs = []
        for n in range(count):
            log = self.root / f"w{count}-{n}.log"
            self.logs.append(log)
            with log.open("wb") as out:
                self.procs.append(subprocess.Popen(
                    [sys.executable, "-m", "gitmonkey", "worker", "--config", str(config),
                     "--concurrency", "1", "--loglevel", "INFO", "--hostname", f"bench{count}-{n}@bench"],
                    cwd=self.root, env=self.env, stdout=out,
                    stderr=subprocess.STDOUT, start_new_session=True))
        return config

    def stop_workers(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=30)
        if self.procs:
            # A long poll a stopped worker left open still takes a message sent during its wait (it
            # comes back only after the visibility timeout): let the polls run out first.
            time.sleep(POLL_SECONDS + 0.5)
        self.procs = []

    def records(self, round_id: str) -> list[dict[str, Any]]:
        return [r for log in self.logs for r in _task_lines(log) if r.get("round") == round_id]

    def round(self, config: Path, when: datetime) -> dict[str, float]:
        from gitmonkey.config import load_config
        from gitmonkey.distributed.rounds import enqueue_round

        loaded = load_config(config)
        enqueued = time.time()
        report = enqueue_round(loaded, when)
        deadline = time.monotonic() + ROUND_TIMEOUT
        while True:
            records = self.records(report.round)
            failed = [r for r in records if r["event"] == "failed"]
            if failed:
                raise RuntimeError(f"a task failed: {failed[0]}")
            done = [r for r in records if r["event"] == "done"]
            if len(done) == len(self.accounts):
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"round {report.round}: {len(done)} of {len(self.accounts)} tasks done")
            time.sleep(0.05)
        starts = [r["at"] for r in records if r["event"] == "start"]
        return {"wall": max(r["at"] for r in done) - enqueued, "tasks": sum(r["seconds"] for r in done),
                "first_start": min(starts) - enqueued, "api_calls": sum(r["api_calls"] for r in done)}


def _events_figure(bench: _Bench, config: Path, endpoint: str, account_ids: list[str]) -> dict[str, Any]:
    """``EVENTS`` CloudTrail events, one at a time, through a listener handing them to the running
    worker (``events.record_on: workers``): seconds from the event's message being sent to its
    commit being on the account's remote, and the event task's AWS calls."""
    from gitmonkey.config import load_config
    from gitmonkey.listen.run import Listener
    from tests.listen_world import cloudtrail_record

    sqs = boto3.client("sqs", endpoint_url=endpoint, region_name="us-east-1")
    url = sqs.create_queue(QueueName="gitmonkey-bench-events")["QueueUrl"]
    raw = yaml.safe_load(config.read_text(encoding="utf-8"))
    raw["repos_dir"] = "listener"
    raw["events"] = {"queue_url": url, "endpoint_url": endpoint, "region": "us-east-1", "wait_seconds": 0,
                     "slice_debounce_seconds": 0, "record_on": "workers"}
    path = bench.root / "listener.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    listener = Listener(load_config(path))
    groups = {}
    for account_id in account_ids:
        ec2 = _account_client("ec2", endpoint, account_id)
        found = ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": ["sg-0"]}])
        groups[account_id] = (ec2, found["SecurityGroups"][0]["GroupId"])
    latencies = []
    for n in range(EVENTS):
        account_id = account_ids[n % len(account_ids)]
        ec2, group_id = groups[account_id]
        remote = bench.root / "remotes" / f"{account_id}.git"
        before = _git_out(remote, "rev-parse", "main").strip()
        permission = {"IpProtocol": "tcp", "FromPort": 1000 + n, "ToPort": 1000 + n,
                      "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}
        ec2.authorize_security_group_ingress(GroupId=group_id, IpPermissions=[permission])
        record = cloudtrail_record("ec2.amazonaws.com", "AuthorizeSecurityGroupIngress",
                                   {"groupId": group_id}, account=account_id)
        sent = time.monotonic()
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps({
            "version": "0", "id": f"bench-{n}", "detail-type": "AWS API Call via CloudTrail",
            "source": "aws.ec2", "account": account_id, "time": record["eventTime"], "region": "us-east-1",
            "resources": [], "detail": record}))
        listener.run(once=True)
        deadline = time.monotonic() + ROUND_TIMEOUT
        subject = f"ec2.security_group us-east-1 {group_id}"
        while subject not in _git_out(remote, "log", "--format=%s", f"{before}..main"):
            if time.monotonic() > deadline:
                raise RuntimeError(f"event {n}: no commit on {remote}")
            time.sleep(0.02)
        latencies.append(time.monotonic() - sent)
    tasks = [r for log in bench.logs for r in _task_lines(log)
             if r.get("task") == "events" and r["event"] == "done"]
    latencies.sort()
    return {"p50": latencies[len(latencies) // 2], "p95": latencies[int(len(latencies) * 0.95) - 1],
            "calls": sum(r["api_calls"] for r in tasks) / max(1, len(tasks)), "tasks": len(tasks)}


def _git_out(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True).stdout


def _task_lines(log: Path) -> list[dict[str, Any]]:
    found = []
    for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
        at = line.find("gitmonkey-task {")
        if at >= 0:
            found.append(json.loads(line[at + len("gitmonkey-task "):]))
    return found


def run() -> list[dict[str, Any]]:
    from gitmonkey.demo import simulated_environment

    simulated_environment()  # fake credentials: the moto server's default account holds the queue
    from tests.helpers import free_port, moto_server
    from tests.slow_proxy import SlowProxy

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto server's line per request

    port = free_port()
    bench: _Bench | None = None
    with moto_server(port) as endpoint, SlowProxy(port, delay=LATENCY_S) as proxy:
        tmp = Path(tempfile.mkdtemp(prefix="gitmonkey-bench-workers-"))
        try:
            boto3.client("sqs", endpoint_url=endpoint, region_name="us-east-1").create_queue(
                QueueName=QUEUE, Attributes={"FifoQueue": "true", "VisibilityTimeout": str(VISIBILITY)})
            account_ids = [f"{100000000000 + n:012d}" for n in range(1, ACCOUNTS + 1)]
            _seed(endpoint, account_ids)
            bench = _Bench(tmp, port, proxy.url, account_ids)
            clock = datetime(2030, 1, 1, tzinfo=UTC)
            results: dict[int, dict[str, float]] = {}
            for count in WORKERS:
                config = bench.start_workers(count)
                clock += timedelta(hours=1)
                bench.round(config, clock)  # fills this set of clones: not measured
                runs = []
                for n in range(REPEAT):
                    for account_id in account_ids:
                        _account_client("iam", endpoint, account_id).create_user(UserName=f"new-{count}-{n}")
                    clock += timedelta(hours=1)
                    runs.append(bench.round(config, clock))
                if count == 1:
                    events = _events_figure(bench, config, endpoint, account_ids)
                bench.stop_workers()
                results[count] = min(runs, key=lambda r: r["wall"])
        except BaseException:
            print(f"bench_workers: the worker logs are kept in {tmp}", file=sys.stderr)
            raise
        else:
            shutil.rmtree(tmp, ignore_errors=True)
        finally:
            if bench is not None:
                bench.stop_workers()
    one = results[1]
    per_task = one["wall"] / ACCOUNTS
    return [{
        "name": "workers_round",
        "accounts": ACCOUNTS,
        "technologies": list(TECHNOLOGIES),
        "regions": len(REGIONS),
        "api_calls_per_account": round(one["api_calls"] / ACCOUNTS, 1),
        **{f"round_s_{count}_workers": round(results[count]["wall"], 3) for count in WORKERS},
        **{f"ratio_{count}_workers": round(results[count]["wall"] / one["wall"], 3) for count in WORKERS},
        "task_s_mean": round(one["tasks"] / ACCOUNTS, 3),
        "broker_overhead_per_task_s": round((one["wall"] - one["tasks"]) / ACCOUNTS, 3),
        "first_task_latency_s": round(one["first_start"], 3),
        "accounts_per_worker_hour": int(3600 / per_task),
        "repeat": REPEAT,
        "latency_per_call_s": LATENCY_S,
        "note": NOTE,
        "target": "ratios ≈ 1/workers while workers ≤ accounts (network-bound syncs)",
    }, {
        "name": "workers_events",
        "events": EVENTS,
        "event_tasks": events["tasks"],
        "event_to_remote_commit_p50_s": round(events["p50"], 3),
        "event_to_remote_commit_p95_s": round(events["p95"], 3),
        "ratio_p50_to_account_sync": round(events["p50"] / (one["tasks"] / ACCOUNTS), 3),
        "api_calls_per_event_task": round(events["calls"], 1),
        "api_calls_per_account_sync": round(one["api_calls"] / ACCOUNTS, 1),
        "latency_per_call_s": LATENCY_S,
        "note": "one AuthorizeSecurityGroupIngress event at a time: `gitmonkey listen` (record_on: workers) "
                "receives it, hands it to one worker as a record_events task, which aligns the clone, reads "
                "the group, commits, audits and pushes; timed from the event's message being sent to the "
                "commit on the remote; ratio to the same worker's sync of one whole account (the other way "
                "to learn of the change). These accounts are tiny (12 calls per sync): the event's cost is "
                "about fixed (git fetch, commit, audit, push), a sync's grows with the account",
        "target": "ratio < 1 and calls per event ≪ calls per sync",
    }]

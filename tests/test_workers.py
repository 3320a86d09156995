"""Syncing accounts on workers, without Celery: ``run_account`` on several clones of one account
(moto in process, bare git repositories as remotes), the ``workers:`` settings, rounds.

The clones stand for workers: each has its own ``clones_dir``, as two machines would. A task
killed between its commit and its push is simulated by a sync of the same clone with the remote
left out of the account (commits made, nothing pushed), which is the state a SIGKILL leaves;
``tests/test_workers_celery.py`` kills real worker processes.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import threading
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from moto import mock_aws

from gitmonkey import hooks
from gitmonkey.config import ConfigError, config_from_dict, config_problems
from gitmonkey.distributed import rounds
from gitmonkey.distributed.settings import worker_settings
from gitmonkey.distributed.tasks import TASK_NAME
from gitmonkey.distributed.worker_sync import (
    WorkerError,
    _forget_unrecorded_slices,
    align_with_remote,
    deliver_due_notifications,
    run_account,
)
from gitmonkey.store.state import SECRET_KEY_FILE, SyncState
from gitmonkey.sync import run_sync
from tests.helpers import git

ACCOUNT_ID = "123456789012"
SECRET = "s" * 48
NOTIFY = {"channels": {"out": {"type": "stdout"}},
          "recipients": [{"name": "security", "channel": "out", "events": ["item.*"]}]}


@pytest.fixture
def aws():
    with mock_aws():
        yield


@pytest.fixture(autouse=True)
def shared_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GM_WORKER_SECRET", SECRET)


@pytest.fixture
def bare(tmp_path: Path) -> Path:
    path = tmp_path / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(path)], check=True)
    return path


def worker_config(tmp_path: Path, worker: str, remote: Path | None, **workers: Any):
    """The configuration of worker ``worker``: its own folder and clones, the shared remote."""
    account: dict[str, Any] = {"name": "prod", "id": ACCOUNT_ID, "regions": ["us-east-1"]}
    if remote is not None:
        account["remote"] = str(remote)
    raw = {
        "repos_dir": "accounts",
        "accounts": [account],
        "technologies": ["iam.user", "sns.topic"],
        "max_attempts": 1,
        "notifications": NOTIFY,
        "workers": {"broker_url": "sqs://", "secret_key_env": "GM_WORKER_SECRET",
                    "clones_dir": f"clones-{worker}", **workers},
    }
    folder = tmp_path / worker
    folder.mkdir(exist_ok=True)
    path = folder / "gitmonkey.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    return config_from_dict(raw, path)


def clone_of(config) -> Path:
    return worker_settings(config).clones_dir / "prod"


def item_subjects(repo: Path) -> list[str]:
    return git(repo, "log", "--format=%s", "main", "--", "items/").splitlines()


def notified_items(config) -> list[str]:
    """The item ids of every item event this worker's clone queued, in the order queued."""
    outbox = clone_of(config) / ".git" / "gitmonkey" / "outbox"
    messages = [json.loads(p.read_text()) for p in outbox.rglob("*.json") if "events" not in p.parts]
    messages.sort(key=lambda m: m["created"])
    return [e["item_id"] for m in messages for e in m["payload"]["events"] if e["kind"].startswith("item.")]


def assert_remote_consistent(bare: Path) -> None:
    assert git(bare, "fsck", "--strict").strip() == ""
    subjects = item_subjects(bare)
    assert len(subjects) == len(set(subjects)), f"a change recorded twice: {subjects}"


def seed() -> Any:
    iam = boto3.client("iam")
    iam.create_user(UserName="alice")
    sns = boto3.client("sns")
    topic = sns.create_topic(Name="alerts")["TopicArn"]
    # The endpoint URL is a secret path: redacted with the account's key.
    sns.subscribe(TopicArn=topic, Protocol="https", Endpoint="https://hooks.example.com/alerts?token=abc")
    return iam


@contextmanager
def kill_before_push(config):
    """Sync ``config``'s clone as a task killed after committing and before pushing leaves it: aligned
    with the remote, read, committed, audited, notified, and the remote left out."""
    from gitmonkey.store import AccountRepository

    settings = worker_settings(config, need_secret=True)
    account = config.accounts[0]
    local = dataclasses.replace(config, repos_dir=settings.clones_dir,
                                accounts=(dataclasses.replace(account, remote=None),))

    def killed():
        repo = AccountRepository.open(clone_of(config))
        align_with_remote(repo, config, account, settings.account_secret_key(account.id))
        return run_sync(local)

    yield killed


# -- settings ---------------------------------------------------------------------------------------


def test_settings_defaults_the_broker_from_the_environment_and_the_shared_key(tmp_path: Path) -> None:
    config = worker_config(tmp_path, "a", None)
    settings = worker_settings(config, need_secret=True)
    assert (settings.queue, settings.visibility_timeout, settings.round_minutes) == (
        "gitmonkey-sync.fifo", 3600, 60)
    assert (settings.concurrency, settings.push_retries) == (1, 3)
    assert settings.clones_dir == tmp_path / "a" / "clones-a"
    assert settings.transport() == {"visibility_timeout": 3600}
    assert settings.time_limit == pytest.approx(3240)
    assert settings.fifo
    key = settings.account_secret_key(ACCOUNT_ID)
    other_worker = worker_settings(worker_config(tmp_path, "b", None), need_secret=True)
    assert len(key) == 32 and key == other_worker.account_secret_key(ACCOUNT_ID)
    assert key != settings.account_secret_key("210987654321")

    env = dataclasses.replace(config, workers={"broker_url_env": "GM_BROKER",
                                               "secret_key_env": "GM_WORKER_SECRET"})
    assert worker_settings(env, environ={"GM_BROKER": "redis://:pw@redis:6379/0"}).broker_url == "redis://:pw@redis:6379/0"
    with pytest.raises(ConfigError, match=r"broker_url_env: the environment variable GM_BROKER is not set"):
        worker_settings(env, environ={})
    with pytest.raises(ConfigError, match="workers: set broker_url"):
        worker_settings(dataclasses.replace(config, workers={}))
    with pytest.raises(ConfigError, match=r"workers\.broker_url: a broker URL with a password"):
        worker_settings(dataclasses.replace(config, workers={"broker_url": "sqs://AKIA:SECRET@sqs"}))
    short = dataclasses.replace(config, workers={"broker_url": "sqs://", "secret_key_env": "GM_SHORT"})
    with pytest.raises(ConfigError, match="GM_SHORT holds 5 bytes"):
        worker_settings(short, environ={"GM_SHORT": "short"}, need_secret=True)
    keyless = dataclasses.replace(config, workers={"broker_url": "sqs://"})
    with pytest.raises(ConfigError, match="secret_key_env or secret_key_file"):
        worker_settings(keyless, need_secret=True)
    secret_file = tmp_path / "secret"
    secret_file.write_text(SECRET + "\n")
    from_file = dataclasses.replace(config, workers={"broker_url": "sqs://",
                                                     "secret_key_file": str(secret_file)})
    assert worker_settings(from_file, need_secret=True).account_secret_key(ACCOUNT_ID) == key
    assert worker_settings(from_file).shared_secret is None, "read only by workers"


def test_the_schema_refuses_a_broker_password_naming_the_key_without_repeating_it() -> None:
    base = {"accounts": [{"name": "prod", "id": ACCOUNT_ID}]}
    problems = config_problems({**base, "workers": {"broker_url": "redis://:hunter2@redis:6379/0"}})
    assert len(problems) == 1
    assert problems[0].startswith("workers.broker_url: expected a broker URL without a password")
    assert "broker_url_env" in problems[0]
    assert "hunter2" not in problems[0]
    # Nor is a URL that is malformed as well repeated: it may hold a password all the same.
    problems = config_problems({**base, "workers": {"broker_url": "hunter2:hunter2"}})
    assert len(problems) == 1 and problems[0].startswith("workers.broker_url: expected a Celery broker URL")
    assert "hunter2" not in problems[0]
    problems = config_problems({**base, "workers": {
        "broker_url": "sqs://", "broker_url_env": "X", "queue": "a.b",
        "transport_options": {"visibility_timeout": 5}, "concurency": 2}})
    text = "\n".join(problems)
    assert "one of broker_url and broker_url_env" in text
    assert "workers.queue: 'a.b' is not a queue name" in text
    assert "workers.transport_options: expected a mapping without visibility_timeout" in text
    assert "unknown key 'concurency' (did you mean 'concurrency'?)" in text
    queues = {"q.fifo": {"url": "https://sqs.eu-west-1.amazonaws.com/123456789012/q.fifo"}}
    assert config_problems({**base, "workers": {
        "broker_url": "sqs://", "secret_key_env": "S", "queue": "q.fifo",
        "transport_options": {"region": "eu-west-1", "predefined_queues": queues}}}) == []
    queues["q.fifo"]["secret_access_key"] = "SHHH"
    problems = config_problems({**base, "workers": {"broker_url": "sqs://",
                                                    "transport_options": {"predefined_queues": queues}}})
    assert len(problems) == 1 and "not a secret" in problems[0] and "'secret_access_key'" in problems[0]
    assert "SHHH" not in problems[0]


# -- rounds -----------------------------------------------------------------------------------------


def test_a_round_is_named_by_its_wall_clock_boundary() -> None:
    at = datetime(2026, 3, 1, 10, 59, 59, tzinfo=UTC)
    assert rounds.round_id(at, 60) == "20260301T1000Z"
    assert rounds.round_id(at.replace(minute=0, second=0), 60) == "20260301T1000Z"
    assert rounds.round_id(at, 15) == "20260301T1045Z"
    assert rounds.next_round(at, 60) == datetime(2026, 3, 1, 11, 0, tzinfo=UTC)
    assert rounds.round_id(datetime(2026, 3, 1, 23, 30), 24 * 60) == "20260301T0000Z"


class _Producer:
    def __enter__(self) -> _Producer:
        return self

    def __exit__(self, *_: Any) -> None:
        return None


class RecordingApp:
    """Stands for the Celery app: records what ``send_task`` was given."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    def producer_or_acquire(self) -> _Producer:
        return _Producer()

    def send_task(self, name: str, **options: Any) -> None:
        options.pop("producer")
        self.sent.append({"name": name, **options})


def test_a_round_enqueues_one_task_per_account_grouped_and_deduplicated(tmp_path: Path, bare: Path) -> None:
    config = worker_config(tmp_path, "a", bare)
    other = {"name": "lab", "id": "210987654321", "remote": str(bare)}
    local_only = {"name": "scratch", "id": "111111111111"}
    raw = {**config.raw, "accounts": [*config.raw["accounts"], other, local_only]}
    config = config_from_dict(raw, config.path)
    app = RecordingApp()
    report = rounds.enqueue_round(config, datetime(2026, 3, 1, 10, 7, tzinfo=UTC), app=app)  # type: ignore[arg-type]
    assert [s["name"] for s in app.sent] == [TASK_NAME, TASK_NAME]
    assert app.sent[0] == {
        "name": TASK_NAME, "args": [ACCOUNT_ID, "20260301T1000Z"], "task_id": f"{ACCOUNT_ID}-20260301T1000Z",
        "queue": "gitmonkey-sync.fifo", "MessageGroupId": ACCOUNT_ID,
        "MessageDeduplicationId": f"{ACCOUNT_ID}-20260301T1000Z",
    }
    assert app.sent[1]["MessageGroupId"] == "210987654321"
    assert [t.account for t in report.tasks] == ["prod", "lab"]
    assert report.skipped == [{"account": "scratch", "account_id": "111111111111",
                               "reason": "no remote: a worker's clone must push somewhere"}]
    assert report.exit_code == 1 and "skipped scratch" in report.summary()

    again = RecordingApp()
    rounds.enqueue_round(config, datetime(2026, 3, 1, 10, 59, tzinfo=UTC), accounts=["lab"], app=again)  # type: ignore[arg-type]
    assert [s["MessageDeduplicationId"] for s in again.sent] == ["210987654321-20260301T1000Z"]
    with pytest.raises(ConfigError, match="no account named 'nope'"):
        rounds.enqueue_round(config, accounts=["nope"], app=RecordingApp())  # type: ignore[arg-type]


# -- run_account --------------------------------------------------------------------------------------


def test_an_account_moving_between_workers_is_never_rekeyed_renotified_or_recorded_twice(
    tmp_path: Path, aws: None, bare: Path
) -> None:
    iam = seed()
    a, b = worker_config(tmp_path, "a", bare), worker_config(tmp_path, "b", bare)

    first = run_account(a, ACCOUNT_ID, "r1")
    assert first.commits >= 1 and first.head == git(bare, "rev-parse", "main").strip()
    iam.create_user(UserName="bob")
    second = run_account(b, ACCOUNT_ID, "r2")  # a fresh clone on another worker
    assert second.commits == 1, "only bob: the redacted subscription endpoint hashes the same on b"
    iam.create_user(UserName="carol")
    third = run_account(a, ACCOUNT_ID, "r3")  # a is behind the remote by b's commits
    assert third.replayed == [] and third.commits == 1

    assert item_subjects(bare)[:2] == ["iam.user global carol: added", "iam.user global bob: added"]
    assert_remote_consistent(bare)
    assert git(bare, "rev-list", "--merges", "main").strip() == "", "each clone started from the remote"
    key_a = (clone_of(a) / ".git/gitmonkey" / SECRET_KEY_FILE).read_bytes()
    assert key_a == (clone_of(b) / ".git/gitmonkey" / SECRET_KEY_FILE).read_bytes()
    # Each change was notified once, by the worker that recorded it: a never re-notifies b's bob.
    assert sorted(notified_items(a)) == ["alerts", "alice", "carol"]
    assert notified_items(b) == ["bob"]
    for config in (a, b):
        assert git(clone_of(config), "status", "--porcelain") == ""
    assert hooks.audited_head(hooks_repo(a), third.head or "") is not None


def hooks_repo(config):
    from gitmonkey.store import AccountRepository

    return AccountRepository.open(clone_of(config))


def test_commits_a_killed_task_did_not_push_are_replayed_once(tmp_path: Path, aws: None, bare: Path) -> None:
    iam = seed()
    a, b = worker_config(tmp_path, "a", bare), worker_config(tmp_path, "b", bare)
    run_account(a, ACCOUNT_ID, "r1")
    pushed = git(bare, "rev-parse", "main").strip()

    iam.create_user(UserName="bob")
    with kill_before_push(a) as killed:
        assert killed().accounts[0].commits, "a recorded bob and was killed before pushing"
    assert git(bare, "rev-parse", "main").strip() == pushed
    redelivered = run_account(a, ACCOUNT_ID, "r2")  # the same task, delivered again to a
    assert len(redelivered.replayed) == 1 and redelivered.commits == 1
    assert item_subjects(bare)[0] == "iam.user global bob: added"

    iam.create_user(UserName="carol")
    with kill_before_push(a) as killed:
        killed()
    on_b = run_account(b, ACCOUNT_ID, "r3")  # delivered again, to another worker this time
    assert on_b.replayed == [] and on_b.commits == 1
    iam.create_user(UserName="dave")
    later = run_account(a, ACCOUNT_ID, "r4")  # a still holds its unpushed carol commit
    assert len(later.replayed) == 1 and later.commits == 1

    assert item_subjects(bare)[:3] == ["iam.user global dave: added", "iam.user global carol: added",
                                       "iam.user global bob: added"]
    assert_remote_consistent(bare)
    assert git(bare, "rev-list", "--merges", "main").strip() == ""
    assert git(clone_of(a), "rev-parse", "main").strip() == git(bare, "rev-parse", "main").strip()


def test_a_first_sync_killed_before_its_push_starts_over_from_an_empty_remote(
    tmp_path: Path, aws: None, bare: Path
) -> None:
    seed()
    a = worker_config(tmp_path, "a", bare)
    with kill_before_push(a) as killed:
        killed()
    outcome = run_account(a, ACCOUNT_ID, "r1")
    assert outcome.replayed and outcome.commits >= 1
    assert git(bare, "log", "--format=%s", "main").splitlines()[-1].startswith("baseline: ")
    assert_remote_consistent(bare)

    # Moving main forgets only the slices whose items the discarded commits alone held.
    repo = hooks_repo(a)
    state = SyncState.load(repo.state_dir)
    slices = state.slices()
    slices["eu-west-1/sns.topic"] = {**slices["us-east-1/sns.topic"], "items": 3}
    slices["eu-west-1/iam.user"] = {**slices["global/iam.user"], "items": 0}
    SyncState(state.path, slices).save()
    _forget_unrecorded_slices(repo, repo.head())
    assert sorted(SyncState.load(repo.state_dir).slices()) == [
        "eu-west-1/iam.user", "global/iam.user", "us-east-1/sns.topic"]
    _forget_unrecorded_slices(repo, None)
    assert SyncState.load(repo.state_dir).slices() == {}


def person_pushes(tmp_path: Path, bare: Path, name: str) -> None:
    """A person's commit outside the bot's paths, pushed to the remote (a merged pull request)."""
    work = tmp_path / f"person-{name}"
    env = ["-c", "user.name=Alice", "-c", "user.email=alice@example.com"]
    subprocess.run(["git", "clone", "-q", str(bare), str(work)], check=True)
    (work / "justifications").mkdir(exist_ok=True)
    (work / "justifications" / f"{name}.md").write_text(f"notes {name}\n")
    subprocess.run(["git", *env, "-C", str(work), "add", "-A"], check=True)
    subprocess.run(["git", *env, "-C", str(work), "commit", "-q", "-m", f"notes {name}"], check=True)
    subprocess.run(["git", "-C", str(work), "push", "-q", "origin", "main"], check=True)


class DuringTheSync:
    """A ``progress`` callback that runs ``action`` once, while the sync reads its first slice."""

    def __init__(self, action: Any) -> None:
        self.action = action
        self.slices = 0

    def __call__(self, message: str) -> None:
        if " items, " in message:
            self.slices += 1
        if self.action is not None:
            action, self.action = self.action, None
            action()


def test_a_push_refused_for_peoples_commits_merges_them_without_reading_aws_again(
    tmp_path: Path, aws: None, bare: Path
) -> None:
    iam = seed()
    a = worker_config(tmp_path, "a", bare)
    run_account(a, ACCOUNT_ID, "r1")
    iam.create_user(UserName="bob")
    during = DuringTheSync(lambda: person_pushes(tmp_path, bare, "one"))
    outcome = run_account(a, ACCOUNT_ID, "r2", progress=during)
    assert (outcome.merged, outcome.attempts, outcome.replayed) == (1, 2, [])
    assert during.slices == 2, "AWS was read once (two slices)"
    log = git(bare, "log", "--format=%s", "main").splitlines()
    assert "notes one" in log and item_subjects(bare)[0] == "iam.user global bob: added"
    assert log[0].startswith("Merge origin/main")
    assert_remote_consistent(bare)


def test_a_push_refused_for_another_writers_items_is_replayed_and_never_forced(
    tmp_path: Path, aws: None, bare: Path
) -> None:
    iam = seed()
    a, b = worker_config(tmp_path, "a", bare), worker_config(tmp_path, "b", bare)
    run_account(a, ACCOUNT_ID, "r1")
    iam.create_user(UserName="bob")
    # Another worker records (and pushes) the same change while a is reading.
    during = DuringTheSync(lambda: run_account(b, ACCOUNT_ID, "r2"))
    outcome = run_account(a, ACCOUNT_ID, "r2", progress=during)
    assert len(outcome.replayed) == 1 and outcome.attempts == 2 and outcome.merged == 0
    assert outcome.commits == 0, "the replay found bob recorded already"
    assert during.slices == 4, "read twice: the replay"
    assert item_subjects(bare).count("iam.user global bob: added") == 1
    assert_remote_consistent(bare)

    iam.create_user(UserName="carol")
    strict = worker_config(tmp_path, "c", bare, push_retries=0)
    run_account(strict, ACCOUNT_ID, "r3")  # a fresh clone, in step with the remote
    iam.create_user(UserName="dave")
    with pytest.raises(WorkerError, match="refused 1 time"):
        run_account(strict, ACCOUNT_ID, "r4",
                    progress=DuringTheSync(lambda: person_pushes(tmp_path, bare, "x")))
    assert git(bare, "log", "-1", "--format=%s", "main").strip() == "notes x", "nothing was forced"


def test_an_account_without_a_remote_or_workers_without_a_shared_key_are_refused(
    tmp_path: Path, aws: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = worker_config(tmp_path, "a", None)
    with pytest.raises(WorkerError, match="has no remote"):
        run_account(config, ACCOUNT_ID, "r1")
    with pytest.raises(WorkerError, match="no account with id 999999999999"):
        run_account(config, "999999999999", "r1")
    monkeypatch.delenv("GM_WORKER_SECRET")
    with pytest.raises(ConfigError, match="GM_WORKER_SECRET"):
        run_account(config, ACCOUNT_ID, "r1")
    assert not (tmp_path / "a" / "clones-a").exists()


class FakeTime(threading.Event):
    """The scheduler's clock and its stop event: waiting moves the clock instead of sleeping."""

    def __init__(self, start: datetime, rounds: int) -> None:
        super().__init__()
        self.now = start
        self.rounds = rounds
        self.waits: list[float] = []

    def clock(self) -> datetime:
        return self.now

    def wait(self, timeout: float | None = None) -> bool:
        self.waits.append(float(timeout or 0))
        self.now += timedelta(seconds=float(timeout or 0))
        return self.is_set()


def test_the_scheduler_enqueues_at_each_boundary_retries_and_rereads_the_config(
    tmp_path: Path, bare: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = worker_config(tmp_path, "a", bare)
    clock = FakeTime(datetime(2026, 3, 1, 10, 59, 30, tzinfo=UTC), rounds=3)
    sent: list[tuple[str, list[str]]] = []
    failures = iter([None, ConnectionError("broker down"), None, None])

    def enqueue(current, now, **_: Any):
        failure = next(failures)
        if failure is not None:
            raise failure
        report = rounds.RoundReport(round=rounds.round_id(now, 60), queue="q")
        sent.append((report.round, [a.name for a in current.accounts]))
        if len(sent) == 1:  # an account added to the file between rounds
            raw = {**config.raw, "accounts": [*config.raw["accounts"], {"name": "lab", "id": "210987654321",
                                                                          "remote": str(bare)}]}
            config.path.write_text(yaml.safe_dump(raw), encoding="utf-8")
        if len(sent) == clock.rounds:
            clock.set()
        return report

    monkeypatch.setattr(rounds, "enqueue_round", enqueue)
    monkeypatch.setattr("gitmonkey.distributed.app.make_app", lambda *_args: object())
    said: list[str] = []
    assert rounds.schedule(config, clock, say=said.append, clock=clock.clock) == 3
    assert sent == [("20260301T1000Z", ["prod"]), ("20260301T1100Z", ["prod", "lab"]),
                    ("20260301T1200Z", ["prod", "lab"])]
    assert clock.waits[:3] == [30.0, rounds.RETRY_SECONDS, 3600.0 - rounds.RETRY_SECONDS]
    assert any("enqueueing failed, trying again in 30s: ConnectionError: broker down" in s for s in said)


class _Flaky(BaseHTTPRequestHandler):
    """A webhook receiver on 127.0.0.1 that answers 503 while ``server.down`` is set."""

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.server.down:  # type: ignore[attr-defined]
            self.send_response(503)
        else:
            self.server.received.append(json.loads(body))  # type: ignore[attr-defined]
            self.send_response(204)
        self.end_headers()

    def log_message(self, *_args: Any) -> None:
        pass


def test_a_task_delivers_what_earlier_deliveries_left_in_any_of_the_workers_outboxes(
    aws: None, tmp_path: Path, bare: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Flaky)
    server.down, server.received = True, []  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        seed()
        config = worker_config(tmp_path, "w1", bare)
        webhook = {"channels": {"siem": {"type": "webhook", "url": f"http://127.0.0.1:{server.server_address[1]}/"}},
                   "recipients": [{"name": "siem", "channel": "siem"}]}
        config = dataclasses.replace(config, notifications=webhook)
        settings = worker_settings(config)
        run_account(config, ACCOUNT_ID, "r1")  # its digest's delivery fails: left in the outbox
        assert deliver_due_notifications(config, settings) == {"prod": 1}, "not due yet: still pending"
        assert server.received == []  # type: ignore[attr-defined]

        server.down = False  # type: ignore[attr-defined]
        later = datetime.now(UTC) + timedelta(hours=1)
        assert deliver_due_notifications(config, settings, now=later) == {}
        [payload] = server.received  # type: ignore[attr-defined]
        assert ACCOUNT_ID in json.dumps(payload) and "alice" in json.dumps(payload)
        # Another worker's clones are not this worker's to deliver.
        other = worker_settings(worker_config(tmp_path, "w2", bare))
        assert deliver_due_notifications(config, other, now=later) == {}
    finally:
        server.shutdown()
        server.server_close()


def test_status_shows_the_workers_queue_its_tasks_in_flight_and_its_dead_letter_queue(
    aws: None, tmp_path: Path
) -> None:
    from click.testing import CliRunner

    from gitmonkey.cli import cli
    from gitmonkey.distributed.health import workers_health, workers_lines

    sqs = boto3.client("sqs", region_name="us-east-1")
    dead = sqs.create_queue(QueueName="gitmonkey-sync-dlq.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    dead_arn = sqs.get_queue_attributes(QueueUrl=dead, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    redrive = json.dumps({"deadLetterTargetArn": dead_arn, "maxReceiveCount": 3})
    queue = sqs.create_queue(QueueName="gitmonkey-sync.fifo",
                             Attributes={"FifoQueue": "true", "RedrivePolicy": redrive})["QueueUrl"]
    for account in ("111111111111", "222222222222"):
        sqs.send_message(QueueUrl=queue, MessageBody="{}", MessageGroupId=account,
                         MessageDeduplicationId=f"{account}-r1")
    sqs.send_message(QueueUrl=dead, MessageBody="{}", MessageGroupId="x", MessageDeduplicationId="x")
    sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=1)  # a worker runs one task
    config = worker_config(tmp_path, "w1", None, transport_options={"region": "us-east-1"})

    health = workers_health(config)
    assert health is not None
    assert (health["queue"], health["waiting"], health["in_flight"], health["dead_letter"]["messages"]) == (
        "gitmonkey-sync.fifo", 1, 1, 1)
    assert workers_lines(health)[0].startswith("  DEAD-LETTER 1 tasks in ")
    text = CliRunner().invoke(cli, ["status", "--config", str(config.path)]).output
    assert "workers  sqs queue gitmonkey-sync.fifo" in text and "queue 1 waiting, 1 in flight" in text

    redis = dataclasses.replace(config, workers={**config.workers, "broker_url": "redis://redis:6379/0"})
    assert workers_lines(workers_health(redis)) == ["  the queue's depth is read from SQS brokers only"]
    missing = dataclasses.replace(config, workers={**config.workers, "queue": "nope.fifo"})
    assert "the queue cannot be read: QueueDoesNotExist" in workers_lines(workers_health(missing))[0]
    assert workers_health(dataclasses.replace(config, workers=None)) is None

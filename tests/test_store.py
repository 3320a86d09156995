"""The per-account git store: commits through fast-import, reads through plumbing, the sync lock."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
from datetime import UTC, datetime, timedelta, timezone

import pytest

import gitmonkey.store.repository as repository_module
from gitmonkey.store import (
    AccountRepository,
    ConcurrentUpdateError,
    FileChange,
    PlannedCommit,
    RepositoryError,
    RepositoryLocked,
)

WHEN = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)
USER = "items/global/iam/user/alice.json"
SG = "items/us-east-1/ec2/security_group/sg-0abc.json"


def git(path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=path, check=True, capture_output=True, text=True).stdout


def people_commit(path, name: str, content: str, message: str) -> None:
    (path / name).parent.mkdir(parents=True, exist_ok=True)
    (path / name).write_text(content)
    git(path, "add", name)
    git(path, "-c", "user.name=Person", "-c", "user.email=person@example.com", "commit", "-q", "-m", message)


def assert_clean(path) -> None:
    assert git(path, "status", "--porcelain", "--untracked-files=all") == ""
    git(path, "fsck", "--strict", "--no-progress")


@pytest.fixture
def repo(tmp_path):
    return AccountRepository.open(tmp_path / "acct")


def one(message: str, *changes: tuple[str, bytes | None]) -> PlannedCommit:
    return PlannedCommit(message, tuple(FileChange(p, c) for p, c in changes))


def test_open_creates_an_empty_repository_on_main(tmp_path):
    repo = AccountRepository.open(tmp_path / "a" / "b")
    assert repo.git_dir == tmp_path / "a" / "b" / ".git"
    assert repo.state_dir.is_dir() and repo.state_dir == repo.git_dir / "gitmonkey"
    assert git(repo.path, "symbolic-ref", "HEAD").strip() == "refs/heads/main"
    assert repo.head() is None
    assert repo.list_blobs("items") == {}
    assert repo.read_file(USER) is None
    assert repo.commit([]) == []
    again = AccountRepository.open(repo.path)
    assert again.path == repo.path and again.head() is None


def test_open_without_create_refuses_a_missing_repository(tmp_path):
    with pytest.raises(RepositoryError, match="not a git repository"):
        AccountRepository.open(tmp_path / "missing", create=False)
    assert not (tmp_path / "missing").exists()


def test_commit_add_modify_delete_round_trip(repo):
    first = repo.commit([one("add alice", (USER, b'{"a": 1}\n'), (SG, b'{"sg": 1}\n'))], when=WHEN)
    assert first == [repo.head()]
    assert_clean(repo.path)
    later = WHEN + timedelta(minutes=5)
    second = repo.commit(
        [one("modify alice", (USER, b'{"a": 2}\n')), one("delete sg", (SG, None))], when=later
    )
    assert len(second) == 2 and second[-1] == repo.head()
    assert git(repo.path, "rev-list", "--first-parent", "main").split() == [second[1], second[0], first[0]]
    assert git(repo.path, "log", "--format=%s").splitlines() == ["delete sg", "modify alice", "add alice"]
    assert git(repo.path, "show", f"{second[0]}:{USER}") == '{"a": 2}\n'
    assert git(repo.path, "show", "--name-status", "--format=", second[1]).split() == ["D", SG]
    assert (repo.path / USER).read_text() == '{"a": 2}\n'
    assert not (repo.path / SG).exists()
    assert repo.list_blobs("items") == {USER: repo.blob_sha(b'{"a": 2}\n')}
    assert repo.read_file(USER) == b'{"a": 2}\n'
    assert repo.read_file(SG) is None
    assert repo.read_file(SG, rev=first[0]) == b'{"sg": 1}\n'
    assert_clean(repo.path)


def test_identity_and_date_come_from_the_repository_not_global_config(tmp_path):
    repo = AccountRepository.open(
        tmp_path / "r", committer_name="Monkey Bot", committer_email="bot@example.org"
    )
    when = datetime(2024, 1, 1, 12, 0, 0, tzinfo=timezone(timedelta(hours=-5)))
    [sha] = repo.commit([one("x", (USER, b"1"))], when=when)
    fields = git(repo.path, "log", "-1", "--format=%an|%ae|%cn|%ce|%at|%ai", sha).strip().split("|")
    assert fields[:4] == ["Monkey Bot", "bot@example.org", "Monkey Bot", "bot@example.org"]
    assert int(fields[4]) == int(when.timestamp())
    assert fields[5].endswith("-0500")


def test_default_date_is_now_in_utc(repo):
    before = datetime.now(UTC).replace(microsecond=0)
    [sha] = repo.commit([one("x", (USER, b"1"))])
    stamp = git(repo.path, "log", "-1", "--format=%at %ai", sha).split()
    assert int(stamp[0]) >= int(before.timestamp()) and stamp[-1] == "+0000"


def test_invalid_identity_is_rejected(tmp_path):
    with pytest.raises(ValueError, match="committer email"):
        AccountRepository(tmp_path, committer_email="a>b")


def test_message_with_trailers_survives_exactly(repo):
    message = (
        "iam.user alice: modified\n\nPolicy changed.\n  indented line kept\n\n"
        "Gitmonkey-Technology: iam.user\nGitmonkey-Region: global\nGitmonkey-Id: alice\n"
    )
    [sha] = repo.commit([PlannedCommit(message, (FileChange(USER, b"{}\n"),))], when=WHEN)
    raw = git(repo.path, "cat-file", "commit", sha)
    assert raw.split("\n\n", 1)[1] == message
    trailers = git(repo.path, "log", "-1", "--format=%(trailers:only,unfold)", sha).strip().splitlines()
    assert trailers == ["Gitmonkey-Technology: iam.user", "Gitmonkey-Region: global", "Gitmonkey-Id: alice"]


ODD_NAMES = [
    "items/global/iam/user/Zoë-été.json",
    "items/global/iam/user/with space.json",
    'items/global/iam/user/quote"d.json',
    '"items/leading-quote.json',
    "items/global/iam/user/back\\slash.json",
    "items/global/iam/user/tab\there.json",
    "items/global/iam/user/new\nline.json",
    "items/global/iam/user/emoji-🐒.json",
    "items/global/iam/user/日本語.json",
]


def test_unicode_and_odd_file_names_round_trip(repo):
    changes = [(name, f"content of {name}\n".encode()) for name in ODD_NAMES]
    repo.commit([one("odd names", *changes)], when=WHEN)
    blobs = repo.list_blobs("")
    assert set(blobs) == set(ODD_NAMES)
    for name, content in changes:
        assert repo.read_file(name) == content
        assert blobs[name] == repo.blob_sha(content)
        assert (repo.path / name).read_bytes() == content
    assert_clean(repo.path)
    repo.commit([one("delete odd names", *((n, None) for n in ODD_NAMES))], when=WHEN)
    assert repo.list_blobs("") == {}
    assert_clean(repo.path)


def test_blob_sha_matches_git_and_read_blobs_reads_in_one_batch(repo):
    contents = [b"", b"a\n", "ü\n".encode(), bytes(range(256)) * 4]
    repo.commit([one("blobs", *((f"items/f{i}", c) for i, c in enumerate(contents)))], when=WHEN)
    for i, content in enumerate(contents):
        hashed = subprocess.run(
            ["git", "hash-object", "--stdin"], input=content, capture_output=True, check=True
        )
        assert repo.blob_sha(content) == hashed.stdout.decode().strip()
        assert repo.list_blobs("items")[f"items/f{i}"] == repo.blob_sha(content)
    shas = [repo.blob_sha(c) for c in contents]
    assert repo.read_blobs(shas + shas[:1]) == dict(zip(shas, contents, strict=True))
    assert repo.read_blobs([]) == {}
    with pytest.raises(ValueError, match="not a full object id"):
        repo.read_blobs(["HEAD"])
    with pytest.raises(RepositoryError, match="missing"):
        repo.read_blobs(["0" * 40])


def test_list_blobs_is_limited_to_the_prefix_directory(repo):
    repo.commit([one("x", ("items/global/a.json", b"1"), ("items/global-x/b.json", b"2"),
                     ("issues/global/a.yaml", b"3"))], when=WHEN)
    assert set(repo.list_blobs("items/global")) == {"items/global/a.json"}
    assert set(repo.list_blobs("items/global/")) == {"items/global/a.json"}
    assert set(repo.list_blobs("issues")) == {"issues/global/a.yaml"}
    assert len(repo.list_blobs("")) == 3
    assert repo.list_blobs("nothing") == {}


def test_read_file_of_a_directory_is_an_error(repo):
    repo.commit([one("x", (USER, b"1"))], when=WHEN)
    with pytest.raises(RepositoryError, match="not a file"):
        repo.read_file("items/global")


@pytest.mark.parametrize(
    ("path", "problem"),
    [("/abs.json", "absolute"), ("items/../x", "'..'"), ("items//x", "empty"), ("items/x/", "empty"),
     ("./items/x", "'.'"), (".git/config", ".git"), ("items/.GIT/x", ".git"), ("items/\0", "NUL"),
     ("", "empty")],
)
def test_bad_paths_are_refused_and_nothing_is_written(repo, path, problem):
    [base] = repo.commit([one("base", (USER, b"1"))], when=WHEN)
    with pytest.raises(ValueError, match=problem):
        repo.commit([one("fine", (SG, b"2")), one("bad", (path, b"x"))], when=WHEN)
    assert repo.head() == base
    assert git(repo.path, "rev-list", "--all").split() == [base]
    assert_clean(repo.path)


def test_bad_commits_are_refused(repo):
    with pytest.raises(ValueError, match="message is empty"):
        repo.commit([one("  \n", (USER, b"1"))])
    with pytest.raises(ValueError, match="changes nothing"):
        repo.commit([PlannedCommit("nothing", ())])
    with pytest.raises(ValueError, match="changed twice"):
        repo.commit([one("twice", (USER, b"1"), (USER, None))])
    with pytest.raises(TypeError, match="must be bytes"):
        repo.commit([PlannedCommit("text", (FileChange(USER, "not bytes"),))])  # type: ignore[arg-type]
    assert repo.head() is None


def test_peoples_uncommitted_files_survive_commits(repo):
    repo.commit([one("base", (USER, b"1"))], when=WHEN)
    people_commit(repo.path, "justifications/a.yaml", "reason: one\n", "justify a")
    (repo.path / "justifications/a.yaml").write_text("reason: edited, not committed\n")
    (repo.path / "justifications/new.yaml").write_text("reason: new\n")
    (repo.path / "notes.txt").write_text("staged")
    git(repo.path, "add", "notes.txt")
    repo.commit([one("modify", (USER, b"2")), one("add sg", (SG, b"3"))], when=WHEN)
    assert (repo.path / "justifications/a.yaml").read_text() == "reason: edited, not committed\n"
    assert (repo.path / "justifications/new.yaml").read_text() == "reason: new\n"
    assert set(git(repo.path, "status", "--porcelain").splitlines()) == {
        "A  notes.txt", " M justifications/a.yaml", "?? justifications/new.yaml",
    }
    assert git(repo.path, "log", "--format=%s").splitlines() == ["add sg", "modify", "justify a", "base"]


def test_first_commit_keeps_files_people_staged_before_it(repo):
    (repo.path / "README.md").write_text("hello")
    git(repo.path, "add", "README.md")
    repo.commit([one("base", (USER, b"1"))], when=WHEN)
    assert git(repo.path, "status", "--porcelain").splitlines() == ["A  README.md"]


def test_commit_refuses_when_main_moved_meanwhile(repo, monkeypatch):
    [base] = repo.commit([one("base", (USER, b"1"))], when=WHEN)
    original = repository_module._stream

    def interleaved(*args):
        for n, record in enumerate(original(*args)):
            if n == 1:
                people_commit(repo.path, "justifications/j.yaml", "x: 1\n", "person moved main")
            yield record

    monkeypatch.setattr(repository_module, "_stream", interleaved)
    with pytest.raises(ConcurrentUpdateError, match="moved"):
        repo.commit([one(f"c{i}", (USER, str(i).encode())) for i in range(3)], when=WHEN)
    assert git(repo.path, "log", "--format=%s", "main").splitlines() == ["person moved main", "base"]
    assert (repo.path / USER).read_bytes() == b"1"
    assert base in git(repo.path, "rev-list", "main")
    assert_clean(repo.path)


def test_git_runs_in_the_repository_even_with_a_hooks_environment(repo, tmp_path, monkeypatch):
    other = AccountRepository.open(tmp_path / "other")
    monkeypatch.setenv("GIT_DIR", str(other.git_dir))
    monkeypatch.setenv("GIT_INDEX_FILE", str(other.git_dir / "index"))
    repo = AccountRepository.open(repo.path)
    repo.commit([one("mine", (USER, b"1"))], when=WHEN)
    assert repo.git("log", "--format=%s").strip() == "mine"
    assert other.head() is None
    with pytest.raises(RepositoryError, match="git rev-parse failed"):
        repo.git("rev-parse", "--verify", "no-such-ref")


def test_lock_is_exclusive_and_names_its_holder(repo):
    with repo.lock():
        with pytest.raises(RepositoryLocked, match=rf"pid {os.getpid()} on .+ since \d{{4}}-"), repo.lock():
            pass
        assert (repo.state_dir / "sync.lock").exists()
    with repo.lock():
        pass


def test_a_sync_waits_for_a_listener_holding_the_lock_but_not_for_another_sync(repo):
    held = threading.Event()
    release = threading.Event()

    def hold(by: str) -> None:
        with repo.lock(by=by):
            held.set()
            release.wait(10)

    for by, waits in (("listen", True), ("sync", False)):
        held.clear()
        release.clear()
        holder = threading.Thread(target=hold, args=(by,))
        holder.start()
        held.wait(5)
        assert f'"by": "{by}"' in (repo.state_dir / "sync.lock").read_text()
        threading.Timer(0.5, release.set).start()
        if waits:
            with repo.lock(wait_for=("listen",), wait_seconds=10):
                assert release.is_set(), "acquired only once the listener let go"
        else:
            with pytest.raises(RepositoryLocked, match=r"locked by another run \(sync: pid"), repo.lock(
                wait_for=("listen",), wait_seconds=10
            ):
                pass
            assert not release.is_set(), "another sync is not waited for"
        holder.join()


LOCK_HOLDER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from gitmonkey.store import AccountRepository
    with AccountRepository.open(Path(sys.argv[1])).lock():
        print("locked", flush=True)
        sys.stdin.readline()
    """
)


def test_lock_of_a_killed_process_does_not_block(repo):
    holder = subprocess.Popen(
        [sys.executable, "-c", LOCK_HOLDER, str(repo.path)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(RepositoryLocked, match=f"pid {holder.pid} "):
            repo.lock().__enter__()
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
        holder.stdin.close()
        holder.stdout.close()
    assert holder.returncode == -signal.SIGKILL
    with repo.lock():
        assert f'"pid": {os.getpid()}' in (repo.state_dir / "sync.lock").read_text()


def test_a_commit_can_name_who_made_the_change_and_keeps_the_bot_as_committer(tmp_path):
    from gitmonkey.store import Author

    repo = AccountRepository.open(tmp_path / "acct")
    when = datetime(2026, 12, 3, 10, 0, 5, tzinfo=UTC)
    author = Author("deploy/alice@example.com", "deploy-alice-example.com@assumedrole.aws", when)
    change = FileChange("items/us-east-1/ec2/security_group/sg-1.json", b"{}\n")
    repo.commit([PlannedCommit("ec2.security_group us-east-1 sg-1: modified", (change,), author)])
    line = git(repo.path, "log", "-1", "--format=%an|%ae|%aI|%cn|%ce")
    assert line.strip() == ("deploy/alice@example.com|deploy-alice-example.com@assumedrole.aws|"
                            "2026-12-03T10:00:05+00:00|gitmonkey|gitmonkey@localhost")
    for bad in ("eve <evil@x>", "eve\nInjected: 1", ""):
        with pytest.raises(ValueError, match="invalid author name"):
            repo.commit([PlannedCommit("x", (FileChange("items/a.json", b"1"),), Author(bad, "e@x", when))])
    assert git(repo.path, "log", "--format=%s").splitlines()[0].startswith("ec2.security_group")

"""The git primitives every module shares: running git, ``cat-file --batch``, atomic files."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from gitmonkey.gitcmd import (
    EMPTY_TREE,
    GitCommandError,
    cat_file_batch,
    cat_file_objects,
    git_process,
    run_git,
)
from gitmonkey.store.state import atomic_write

IDENTITY = ["-c", "user.name=Tester", "-c", "user.email=tester@example.com"]


def git(repo: Path, *args: str, input: bytes | None = None) -> str:
    return subprocess.run(["git", *IDENTITY, *args], cwd=repo, input=input, capture_output=True,
                          check=True).stdout.decode().strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    path = tmp_path / "repo"
    subprocess.run(["git", "init", "-q", "-b", "main", str(path)], check=True)
    (path / "items").mkdir()
    (path / "items" / "a b.json").write_bytes(b'{"a": 1}\n')
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "first")
    return path


def test_a_failing_command_raises_with_gits_stderr(repo: Path) -> None:
    with pytest.raises(GitCommandError) as caught:
        run_git(repo, "-c", "core.quotePath=false", "rev-parse", "--verify", "no-such-branch")
    error = caught.value
    assert error.returncode != 0
    assert "Needed a single revision" in error.stderr
    assert error.subcommand == "rev-parse"
    assert str(error) == f"git rev-parse failed in {repo}: {error.stderr}"


def test_check_false_returns_the_output_and_the_status(repo: Path) -> None:
    assert run_git(repo, "rev-parse", "--verify", "-q", "no-such-branch", check=False) == ""
    assert git_process(repo, "merge-base", "--is-ancestor", "HEAD", "HEAD").returncode == 0
    assert run_git(repo, "rev-parse", "HEAD").strip() == git(repo, "rev-parse", "HEAD")


def test_hook_variables_are_stripped_and_extra_variables_applied(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = tmp_path / "other"
    subprocess.run(["git", "init", "-q", str(other)], check=True)
    monkeypatch.setenv("GIT_DIR", str(other / ".git"))
    monkeypatch.setenv("GIT_INDEX_FILE", str(tmp_path / "hook-index"))
    monkeypatch.setenv("GIT_WORK_TREE", str(other))

    assert run_git(repo, "rev-parse", "--absolute-git-dir").strip() == str((repo / ".git").resolve())
    assert run_git(repo, "ls-files").splitlines() == ["items/a b.json"]
    bot = {"GIT_AUTHOR_NAME": "Bot", "GIT_AUTHOR_EMAIL": "b@x"}
    ident = run_git(repo, "var", "GIT_AUTHOR_IDENT", env=bot)
    assert ident.startswith("Bot <b@x> ")


def test_cat_file_batch_round_trip_with_missing_objects(repo: Path) -> None:
    contents = [b"", b"two\nlines\n", bytes(range(256)), b"no newline at the end"]
    shas = [git(repo, "hash-object", "-w", "--stdin", input=c) for c in contents]
    missing = "0" * 40
    specs = [*shas, shas[0], "HEAD:items/a b.json", "HEAD:items/none.json", missing, "HEAD:items", "a\nb", ""]

    blobs = cat_file_batch(repo, specs)

    assert blobs == {**dict(zip(shas, contents, strict=True)), "HEAD:items/a b.json": b'{"a": 1}\n'}
    objects = cat_file_objects(repo, ["HEAD:items", missing, shas[1]])
    assert {spec: obj.kind for spec, obj in objects.items()} == {"HEAD:items": "tree", shas[1]: "blob"}
    assert cat_file_batch(repo, []) == {}


def test_cat_file_batch_outside_a_repository_is_a_git_error(tmp_path: Path) -> None:
    with pytest.raises(GitCommandError, match="git cat-file failed"):
        cat_file_batch(tmp_path, ["HEAD:x"])


def test_empty_tree_is_gits(repo: Path) -> None:
    assert git(repo, "hash-object", "-t", "tree", "--stdin", input=b"") == EMPTY_TREE


def test_exclusive_atomic_write_keeps_the_first_file(tmp_path: Path) -> None:
    target = tmp_path / "dir" / "key"
    atomic_write(target, b"first", mode=0o600, exclusive=True)
    with pytest.raises(FileExistsError):
        atomic_write(target, b"second", exclusive=True)
    assert target.read_bytes() == b"first"
    assert target.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in target.parent.iterdir()] == ["key"]

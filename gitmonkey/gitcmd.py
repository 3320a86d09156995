"""Running git: the one place that starts a git subprocess and parses ``git cat-file --batch``.

Git is run with an argument list (never a shell), in ``cwd``, with the caller's environment
minus the variables git exports to hooks (``GIT_DIR``, ``GIT_INDEX_FILE``...): inside a hook
they would point our commands at the committing process's repository or temporary index.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "EMPTY_TREE",
    "HOOK_ENV",
    "GitCommandError",
    "GitObject",
    "cat_file_batch",
    "cat_file_objects",
    "git_env",
    "git_process",
    "run_git",
]

EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
HOOK_ENV = (
    "GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY", "GIT_COMMON_DIR",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES", "GIT_PREFIX", "GIT_NAMESPACE", "GIT_QUARANTINE_PATH",
    "GIT_EDITOR", "GIT_REFLOG_ACTION",
)


class GitCommandError(Exception):
    """A git command exited non-zero; carries its arguments, directory, exit status and output."""

    def __init__(self, cwd: Path, argv: tuple[str, ...], returncode: int, stdout: bytes, stderr: bytes
                 ) -> None:
        self.cwd = cwd
        self.argv = argv
        self.returncode = returncode
        self.stdout = stdout.decode("utf-8", "replace")
        self.stderr = stderr.decode("utf-8", "replace").strip()
        detail = self.stderr or f"exit status {returncode}"
        super().__init__(f"git {self.subcommand} failed in {cwd}: {detail}")

    @property
    def subcommand(self) -> str:
        """The git command run (``commit`` of ``git -c a=b commit ...``)."""
        args = list(self.argv)
        while args and args[0].startswith("-"):
            del args[: 2 if args[0] in ("-c", "-C") else 1]
        return args[0] if args else ""


def git_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment git runs in: ours without :data:`HOOK_ENV`, then ``extra`` on top."""
    env = {k: v for k, v in os.environ.items() if k not in HOOK_ENV}
    env.update(extra or {})
    return env


def git_process(cwd: Path, *args: str, input: bytes | None = None, check: bool = False,
                env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[bytes]:
    """Run ``git args...`` in ``cwd`` (``env``: extra variables); raise GitCommandError if ``check`` fails."""
    proc = subprocess.run(["git", *args], cwd=cwd, env=git_env(env), input=input, capture_output=True,
                          check=False)
    if check and proc.returncode != 0:
        raise GitCommandError(Path(cwd), args, proc.returncode, proc.stdout, proc.stderr)
    return proc


def run_git(cwd: Path, *args: str, input: bytes | None = None, check: bool = True,
            env: Mapping[str, str] | None = None) -> str:
    """Run ``git args...`` in ``cwd`` and return its stdout as text; GitCommandError if it fails."""
    proc = git_process(cwd, *args, input=input, check=check, env=env)
    return proc.stdout.decode("utf-8", "surrogateescape")


@dataclass(frozen=True)
class GitObject:
    kind: str
    content: bytes


def cat_file_objects(cwd: Path, specs: Iterable[str]) -> dict[str, GitObject]:
    """Every object the ``specs`` (ids or ``rev:path``) name, by spec, in one ``git cat-file --batch``.

    A spec naming nothing (or something ambiguous) is absent from the result, and so is one that
    cannot be asked on git's line-based input (empty, or holding a newline: a path git allows).
    """
    wanted = [s for s in dict.fromkeys(specs) if s and "\n" not in s]
    if not wanted:
        return {}
    request = "".join(s + "\n" for s in wanted).encode("utf-8", "surrogateescape")
    out = git_process(cwd, "cat-file", "--batch", "--buffer", input=request, check=True).stdout
    objects: dict[str, GitObject] = {}
    pos = 0
    for spec in wanted:
        end = out.index(b"\n", pos)
        header = out[pos:end].split(b" ")
        pos = end + 1
        if len(header) != 3 or not header[2].isdigit():
            continue  # "<spec> missing" / "<spec> ambiguous": no content follows
        size = int(header[2])
        objects[spec] = GitObject(header[1].decode(), out[pos:pos + size])
        pos += size + 1
    return objects


def cat_file_batch(cwd: Path, specs: Iterable[str]) -> dict[str, bytes]:
    """The content of each blob the ``specs`` name, by spec; missing specs and non-blobs are absent."""
    return {spec: obj.content for spec, obj in cat_file_objects(cwd, specs).items() if obj.kind == "blob"}

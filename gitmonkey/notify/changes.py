"""Item events from a commit range of an account repository.

The range is read as a net change (``git diff old new -- items/``): an item changed three
times in one sync is one event, whose ``commit`` is the last commit of the range that touched
it. Four git commands for the whole range, whatever its size.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from gitmonkey import events as ev
from gitmonkey.config import AccountConfig
from gitmonkey.gitcmd import EMPTY_TREE, GitCommandError, cat_file_batch, git_process

_KINDS = {"A": ev.ITEM_ADDED, "M": ev.ITEM_MODIFIED, "D": ev.ITEM_DELETED, "T": ev.ITEM_MODIFIED}
_VERBS = {ev.ITEM_ADDED: "added", ev.ITEM_MODIFIED: "modified", ev.ITEM_DELETED: "deleted"}


class GitError(Exception):
    pass


def _git(repo: Path, *args: str) -> bytes:
    try:
        return git_process(repo, "-c", "core.quotePath=false", *args, check=True).stdout
    except GitCommandError as exc:
        raise GitError(f"git {args[0]} in {repo} failed: {exc.stderr}") from exc


def _is_null(rev: str | None) -> bool:
    return not rev or set(rev) == {"0"}


def _resolve(repo: Path, rev: str) -> str:
    return _git(repo, "rev-parse", "--verify", "--end-of-options", f"{rev}^{{commit}}").decode().strip()


def _name_status(repo: Path, old: str, new: str) -> list[tuple[str, str]]:
    out = _git(repo, "diff", "--no-renames", "--name-status", "-z", old, new, "--", "items/")
    fields = out.decode("utf-8", errors="surrogateescape").split("\0")
    return [(fields[i][:1], fields[i + 1]) for i in range(0, len(fields) - 1, 2)]


def _patches(repo: Path, old: str, new: str, count: int) -> list[str]:
    """One unified diff per file, in name-status order (both are sorted by path)."""
    out = _git(repo, "diff", "--no-renames", "--no-color", "--no-ext-diff", old, new, "--", "items/")
    text = out.decode("utf-8", errors="replace")
    chunks = text.split("\ndiff --git ")
    chunks = [chunks[0], *("diff --git " + c for c in chunks[1:])] if text else []
    return [c if c.endswith("\n") else c + "\n" for c in chunks] if len(chunks) == count else [""] * count


def _last_commits(repo: Path, old: str | None, new: str) -> dict[str, str]:
    rng = new if _is_null(old) else f"{old}..{new}"
    out = _git(repo, "log", "--no-renames", "--format=%x01%H", "--name-only", "-z", rng, "--", "items/")
    last: dict[str, str] = {}
    for block in out.decode("utf-8", errors="surrogateescape").split("\x01")[1:]:
        sha, *names = block.split("\0")
        for name in names:
            name = name.lstrip("\n")
            if name and name not in last:
                last[name] = sha.strip()
    return last


def _documents(repo: Path, specs: list[str]) -> list[dict[str, Any]]:
    """Parse ``rev:path`` blobs with one ``git cat-file --batch``; unreadable ones become {}."""
    try:
        blobs = cat_file_batch(repo, specs)
    except GitCommandError as exc:
        raise GitError(f"git cat-file in {repo} failed: {exc.stderr}") from exc
    docs = []
    for spec in specs:
        try:
            doc = json.loads(blobs[spec]) if spec in blobs else {}
        except ValueError:
            doc = {}
        docs.append(doc if isinstance(doc, dict) else {})
    return docs


def _from_path(path: str) -> dict[str, str]:
    """region, technology and id from ``items/<region>/<service>/<type>/<id>.json``."""
    parts = path.split("/")
    if len(parts) != 5:
        return {}
    item_id = parts[4].removesuffix(".json")
    try:
        from gitmonkey.normalize.paths import unescape_id

        item_id = unescape_id(item_id)
    except (ImportError, ValueError):
        pass
    return {"region": parts[1], "technology": f"{parts[2]}.{parts[3]}", "id": item_id}


def item_events(repo_path: Path, account: AccountConfig, old: str | None, new: str) -> list[ev.Event]:
    """Item added/modified/deleted events between ``old`` (None: the beginning) and ``new``."""
    repo = Path(repo_path)
    new = _resolve(repo, new)
    old = None if _is_null(old) else _resolve(repo, old)
    base = old or EMPTY_TREE
    all_changes = _name_status(repo, base, new)
    changes = [(s, p) for s, p in all_changes if s in _KINDS and p.endswith(".json")]
    if not changes:
        return []
    patches = dict(zip((p for _, p in all_changes), _patches(repo, base, new, len(all_changes)), strict=True))
    commits = _last_commits(repo, old, new)
    specs = [f"{base if s == 'D' else new}:{p}" for s, p in changes]
    documents = _documents(repo, specs)
    result = []
    for (status, path), doc in zip(changes, documents, strict=True):
        kind = _KINDS[status]
        guess = _from_path(path)
        technology = str(doc.get("technology") or guess.get("technology") or "") or None
        region = str(doc.get("region") or guess.get("region") or "") or None
        item_id = str(doc.get("id") or guess.get("id") or path)
        name = str(doc.get("name") or "") or None
        label = name or item_id
        result.append(
            ev.Event(
                kind=kind,
                account=account.name,
                account_id=account.id,
                title=f"{technology or 'item'} {label} {_VERBS[kind]}",
                technology=technology,
                region=region,
                item_id=item_id,
                item_name=name,
                commit=commits.get(path, new),
                details={"path": path, "diff": patches.get(path, "")},
            )
        )
    return result

"""Forensics over the account repositories: find an item, its history, its content then, its diff.

Everything is read from the ``main`` branch of ``<repos_dir>/<account>/`` with git's own
commands; nothing here writes. Items are found by id, name, ARN or repository path, including
items deleted since (their last version is read from the parent of the deleting commit).
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from gitmonkey.config import AccountConfig, Config
from gitmonkey.gitcmd import GitCommandError, cat_file_batch, git_process
from gitmonkey.normalize.paths import ITEMS_DIR, parse_item_path

_KINDS = {"A": "added", "M": "modified", "D": "deleted", "T": "modified"}
_NOW_WORDS = re.compile(r"\b(now|today|ago)\b", re.IGNORECASE)


class ForensicsError(Exception):
    """An expected failure (unknown item, bad date, missing repository), worded for people."""


class ItemNotFound(ForensicsError):
    pass


class AmbiguousItem(ForensicsError):
    def __init__(self, item: str, candidates: list[ItemRef]) -> None:
        self.candidates = candidates
        lines = "\n".join(f"  {c.account}  {c.path}  {c.label()}" for c in candidates)
        narrow = "--account or the item's path" if len({c.account for c in candidates}) > 1 else "its path"
        super().__init__(f"{item!r} matches {len(candidates)} items; give {narrow}:\n{lines}")


@dataclass(frozen=True)
class ItemRef:
    """One item of one account repository; ``deleted`` when it is no longer on ``main``."""

    account: str
    path: str
    id: str
    name: str
    technology: str
    region: str
    deleted: bool = False
    arn: str = ""

    def label(self) -> str:
        text = f"{self.technology} {self.region} {self.id}"
        if self.name and self.name != self.id:
            text += f" ({self.name})"
        return text + (" [deleted]" if self.deleted else "")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Revision:
    """One commit that changed an item: ``kind`` is added, modified or deleted."""

    commit: str
    date: str
    subject: str
    kind: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class _Repo:
    """Read-only git access to one account repository."""

    def __init__(self, account: AccountConfig, path: Path) -> None:
        self.account = account
        self.path = path
        self.branch = "main" if self._ok("rev-parse", "--verify", "-q", "refs/heads/main") else "HEAD"

    def _run(self, *args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
        return git_process(self.path, "-c", "core.quotepath=off", *args, input=stdin)

    def _ok(self, *args: str) -> bool:
        return self._run(*args).returncode == 0

    def git(self, *args: str, stdin: bytes | None = None) -> str:
        result = self._run(*args, stdin=stdin)
        if result.returncode != 0:
            message = result.stderr.decode("utf-8", "replace").strip()
            raise ForensicsError(f"git {args[0]} failed in {self.path}: {message}")
        return result.stdout.decode("utf-8", "replace")

    def has_commits(self) -> bool:
        return self._ok("rev-parse", "--verify", "-q", f"{self.branch}^{{commit}}")

    def live_paths(self, rev: str | None = None) -> set[str]:
        out = self.git("ls-tree", "-r", "-z", "--name-only", rev or self.branch, "--", f"{ITEMS_DIR}/")
        return {p for p in out.split("\0") if p}

    def paths_ever(self) -> set[str]:
        out = self.git("log", "--no-renames", "--format=", "--name-only", "-z", self.branch, "--",
                       f"{ITEMS_DIR}/")
        return {p.lstrip("\n") for p in out.split("\0") if p.strip("\n")}

    def last_deletions(self) -> dict[str, str]:
        """Deleted path -> the newest commit that deleted it."""
        out = self.git("log", "--no-renames", "--diff-filter=D", "--format=%x01%H", "--name-only", "-z",
                       self.branch, "--", f"{ITEMS_DIR}/")
        return _commits_and_paths(out, first_only=True)

    def pickaxe(self, text: str) -> list[tuple[str, str]]:
        """(commit, path) pairs where the number of occurrences of ``text`` changed."""
        out = self.git("log", "--no-renames", "-F", f"-S{text}", "--format=%x01%H", "--name-only", "-z",
                       self.branch, "--", f"{ITEMS_DIR}/")
        pairs: list[tuple[str, str]] = []
        commit = ""
        for token in (t.lstrip("\n") for t in out.split("\0")):
            if token.startswith("\x01"):
                commit = token[1:]
            elif token:
                pairs.append((commit, token))
        return pairs

    def grep_live(self, text: str) -> set[str]:
        result = self._run("grep", "-F", "-l", "-z", "-e", text, self.branch, "--", f"{ITEMS_DIR}/")
        if result.returncode not in (0, 1):
            raise ForensicsError(f"git grep failed in {self.path}: {result.stderr.decode().strip()}")
        prefix = f"{self.branch}:"
        return {p.removeprefix(prefix) for p in result.stdout.decode("utf-8", "replace").split("\0") if p}

    def read(self, specs: Iterable[str]) -> dict[str, bytes | None]:
        """Contents of ``rev:path`` specs in one ``git cat-file --batch``; None for missing ones."""
        specs = list(specs)
        try:
            blobs = cat_file_batch(self.path, specs)
        except GitCommandError as exc:
            raise ForensicsError(f"git cat-file failed in {self.path}: {exc.stderr}") from exc
        return {spec: blobs.get(spec) for spec in specs}

    def parent(self, commit: str) -> str | None:
        result = self._run("rev-parse", "--verify", "-q", f"{commit}^")
        return result.stdout.decode().strip() if result.returncode == 0 else None

    def empty_tree(self) -> str:
        return self.git("hash-object", "-t", "tree", "--stdin", stdin=b"").strip()

    def commit_before(self, timestamp: int) -> str | None:
        return self.git("rev-list", "-1", f"--before=@{timestamp}", self.branch).strip() or None


def _commits_and_paths(out: str, *, first_only: bool) -> dict[str, str]:
    found: dict[str, str] = {}
    commit = ""
    for token in (t.lstrip("\n") for t in out.split("\0")):
        if token.startswith("\x01"):
            commit = token[1:]
        elif token and not (first_only and token in found):
            found[token] = commit
    return found


def _repos(config: Config, account: str | None) -> list[_Repo]:
    accounts = [config.account(account)] if account else list(config.accounts)
    repos = []
    for acct in accounts:
        path = config.repo_path(acct)
        if (path / ".git").exists():
            repo = _Repo(acct, path)
            if repo.has_commits():
                repos.append(repo)
    if account and not repos:
        raise ForensicsError(f"account {account!r} has no repository yet at {config.repo_path(accounts[0])} "
                             "(run gitmonkey sync first)")
    return repos


def _load(content: bytes | None) -> dict[str, Any]:
    if content is None:
        return {}
    try:
        doc = json.loads(content)
    except ValueError:
        return {}
    return doc if isinstance(doc, dict) else {}


def _ref(repo: _Repo, path: str, doc: dict[str, Any], deleted: bool) -> ItemRef:
    try:
        loc = parse_item_path(path)
        loc_id, technology, region = loc.id, loc.technology, loc.region
    except ValueError:
        loc_id, technology, region = None, "", ""
    return ItemRef(
        account=repo.account.name,
        path=path,
        id=str(doc.get("id") or loc_id or Path(path).stem),
        name=str(doc.get("name") or ""),
        technology=str(doc.get("technology") or technology),
        region=str(doc.get("region") or region),
        deleted=deleted,
        arn=str(doc.get("arn") or ""),
    )


def _path_id(path: str) -> str | None:
    try:
        return parse_item_path(path).id
    except ValueError:
        return None


def find_items(config: Config, item: str, *, account: str | None = None) -> list[ItemRef]:
    """Every item, live or deleted, whose id, name, ARN or repository path is exactly ``item``."""
    item = item.strip()
    if not item:
        raise ForensicsError("give an item: an id, a name, an ARN or an items/... path")
    refs: list[ItemRef] = []
    for repo in _repos(config, account):
        refs += _find_in_repo(repo, item)
    return sorted(refs, key=lambda r: (r.account, r.deleted, r.path))


def _find_in_repo(repo: _Repo, item: str) -> list[ItemRef]:
    live, ever = repo.live_paths(), repo.paths_ever()
    deletions = repo.last_deletions()

    def spec(path: str) -> str:
        return f"{repo.branch}:{path}" if path in live else f"{deletions.get(path, repo.branch)}^:{path}"

    if item.startswith(f"{ITEMS_DIR}/"):
        matched = {item} & (live | ever)
    else:
        matched = {p for p in ever if _path_id(p) == item}
        candidates = repo.grep_live(item) | {p for p in ever - live if p in deletions}
        candidates |= {p for p in ever if _path_id(p) is None}
        contents = repo.read(spec(p) for p in candidates - matched)
        matched |= {p for p in candidates - matched if _names(_load(contents.get(spec(p))), item)}
        if not matched:
            matched = _formerly_named(repo, item)
    contents = repo.read(spec(p) for p in matched)
    return [_ref(repo, p, _load(contents.get(spec(p))), p not in live) for p in matched]


def _names(doc: dict[str, Any], item: str) -> bool:
    return item in (doc.get("name"), doc.get("arn"), doc.get("id"))


def _formerly_named(repo: _Repo, item: str) -> set[str]:
    """Paths whose name or ARN was ``item`` at some revision (renamed items), via ``git log -S``."""
    pairs = repo.pickaxe(item)
    specs = [s for commit, path in pairs for s in (f"{commit}:{path}", f"{commit}^:{path}")]
    contents = repo.read(specs)
    return {path for commit, path in pairs
            if any(_names(_load(contents.get(f"{c}:{path}")), item) for c in (commit, f"{commit}^"))}


def resolve_item(config: Config, item: str, *, account: str | None = None) -> ItemRef:
    """The one item ``item`` names; ``ItemNotFound`` or ``AmbiguousItem`` otherwise."""
    refs = find_items(config, item, account=account)
    if not refs:
        where = f"account {account!r}" if account else "any account repository"
        raise ItemNotFound(f"no item {item!r} in {where} (looked for an id, name, ARN or items/ path, "
                           "including deleted items)")
    if len(refs) > 1:
        raise AmbiguousItem(item, refs)
    return refs[0]


def _repo_for(config: Config, ref: ItemRef) -> _Repo:
    return _repos(config, ref.account)[0]


def history(config: Config, ref: ItemRef) -> list[Revision]:
    """The commits that added, modified or deleted the item, newest first."""
    repo = _repo_for(config, ref)
    out = repo.git("log", "--no-renames", "--format=%x1e%H%x00%cI%x00%s", "--name-status", "-z",
                   repo.branch, "--", ref.path)
    revisions = []
    for record in out.split("\x1e")[1:]:
        fields = [f.strip("\n") for f in record.split("\0")]
        commit, date, subject, status = fields[0], fields[1], fields[2], fields[3] if len(fields) > 3 else "M"
        revisions.append(Revision(commit, date, subject, _KINDS.get(status[:1], "modified")))
    return revisions


def parse_when(config: Config, when: str) -> int:
    """Resolve ``when`` (anything git's approxidate accepts) to a Unix timestamp.

    A bare date ``YYYY-MM-DD`` means its midnight, not git's "that day at the current time".
    Text git cannot read comes back as the current time; that is refused unless it says so
    (``now``, ``today``, ``... ago``), so a typo never silently means "now".
    """
    text = when.strip()
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        text += " 00:00:00"
    repos = _repos(config, None)
    if not repos:
        raise ItemNotFound(f"no account repository with commits under {config.repos_dir}")
    started = time.time()
    out = repos[0].git("rev-parse", f"--before={text}").strip()
    timestamp = int(out.removeprefix("--min-age="))
    if started - 2 <= timestamp <= time.time() + 2 and not _NOW_WORDS.search(text):
        raise ForensicsError(f"{when!r} is not a date git understands; try 2024-05-01, "
                             "'2024-05-01 13:00:00', '2024-05-01T13:00:00Z' or '3 days ago'")
    return timestamp


def _last_existing(repo: _Repo, ref: ItemRef) -> str:
    if not ref.deleted:
        return repo.branch
    deleting = repo.git("log", "-1", "--format=%H", repo.branch, "--", ref.path).strip()
    return f"{deleting}^"


def show(config: Config, ref: ItemRef, at: str | None = None) -> str:
    """The item's document on ``main`` at ``at`` (default: now, or its last version if deleted)."""
    repo = _repo_for(config, ref)
    if at is None:
        rev = _last_existing(repo, ref)
    else:
        commit = repo.commit_before(parse_when(config, at))
        if commit is None:
            raise ForensicsError(f"account {ref.account} has no commit before {at!r}")
        rev = commit
    content = repo.read([f"{rev}:{ref.path}"])[f"{rev}:{ref.path}"]
    if content is None:
        raise ForensicsError(f"{ref.label()} did not exist at {at!r} (commit {rev[:10]}); "
                             f"see: gitmonkey history {ref.path} --account {ref.account}")
    return content.decode("utf-8", "replace")


def diff(config: Config, ref: ItemRef, since: str | None = None) -> str:
    """Unified diff of the item from ``since`` (default: its previous revision) to now."""
    repo = _repo_for(config, ref)
    if since is None:
        revisions = history(config, ref)
        start = repo.parent(revisions[0].commit) if revisions else None
    else:
        start = repo.commit_before(parse_when(config, since))
    return repo.git("diff", "--no-color", "--no-ext-diff", "--no-textconv", "--no-renames",
                    start or repo.empty_tree(), repo.branch, "--", ref.path)


def items_at(config: Config, when: str, account: str | None = None) -> list[ItemRef]:
    """The items on ``main`` at ``when``, in every account (or one); ``deleted`` if gone since."""
    timestamp = parse_when(config, when)
    refs: list[ItemRef] = []
    for repo in _repos(config, account):
        commit = repo.commit_before(timestamp)
        if commit is None:
            continue
        paths, live = repo.live_paths(commit), repo.live_paths()
        contents = repo.read(f"{commit}:{p}" for p in paths)
        refs += [_ref(repo, p, _load(contents.get(f"{commit}:{p}")), p not in live) for p in paths]
    return sorted(refs, key=lambda r: (r.account, r.region, r.technology, r.id))

"""``gitmonkey site OUT_DIR``: write the static site, rewriting only the pages whose inputs changed.

An item page depends on the item's file, its issue file and the site's own version (templates and
code): their blob ids make the page's digest, kept in ``OUT_DIR/.gitmonkey-site.json`` with every
page written. A rebuild after a sync reads the trees (cheap), compares digests and renders only the
pages of the items that changed; the overview, issues and changes pages are made every time (they
show the whole estate). Pages of items that are gone are removed, and nothing else in ``OUT_DIR`` is
touched, except that a directory holding files the site did not write is refused as the output.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from gitmonkey import __version__
from gitmonkey.config import Config
from gitmonkey.normalize import paths
from gitmonkey.site.model import Estate, IssueRow, ItemView, item_page
from gitmonkey.status import parse_time

if TYPE_CHECKING:
    from gitmonkey.site.data import AccountSource, FileChange

MANIFEST = ".gitmonkey-site.json"
ROOT_PAGES = ("index.html", "issues.html", "changes.html")


class SiteError(Exception):
    """The output directory cannot be used."""


@dataclass
class SiteReport:
    out_dir: Path
    pages: int = 0
    written: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "out_dir": str(self.out_dir),
            "pages": self.pages,
            "written": len(self.written),
            "removed": len(self.removed),
            "errors": self.errors,
        }


def _site_version() -> str:
    """Changes when the code or templates that make pages change: every page is then rewritten."""
    digest = hashlib.sha256(__version__.encode())
    for path in sorted(Path(__file__).parent.rglob("*")):
        if path.is_file() and path.suffix in (".py", ".html", ".css", ".js"):
            digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()[:16]


def build_site(
    config: Config,
    out_dir: str | os.PathLike[str],
    *,
    accounts: Sequence[str] = (),
    since: datetime | None = None,
    now: datetime | None = None,
) -> SiteReport:
    from gitmonkey.site import render
    from gitmonkey.site.data import CHANGES_LIMIT, AccountSource

    now = now or datetime.now(UTC)
    out = Path(out_dir)
    report = SiteReport(out_dir=out)
    manifest = _load_manifest(out)
    version = _site_version()
    old_pages: dict[str, str] = manifest.get("pages", {}) if manifest.get("version") == version else {}
    new_pages: dict[str, str] = {}

    sources = [
        AccountSource(config, a)
        for a in config.accounts
        if (not accounts or a.name in accounts or a.id in accounts)
        and (config.repo_path(a) / ".git").exists()
    ]
    summaries, all_issues, all_changes = [], [], []
    for source in sources:
        issues = source.issues(now, report.errors)
        changes = source.item_changes()
        recent = [c for c in changes if since is None or _when(c.date) >= since]
        summaries.append(source.summary(config, issues, recent, since, now))
        all_issues += issues
        all_changes += source.changes(recent, CHANGES_LIMIT)
        _item_pages(source, issues, changes, old_pages, new_pages, out, report, version)

    newest = max((_when(c.date) for c in all_changes), default=None)
    estate = Estate(
        # The data's time, not the build's: an unchanged estate rebuilds to identical pages.
        generated_at=newest.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if newest else "no change yet",
        accounts=summaries,
        issues=sorted(all_issues, key=lambda i: (-i.score, i.account, i.technology, i.item_id, i.rule)),
        changes=sorted(all_changes, key=lambda c: c.date, reverse=True)[:CHANGES_LIMIT],
    )
    for name, text in (
        ("index.html", render.render_overview(estate)),
        ("issues.html", render.render_issues(estate)),
        ("changes.html", render.render_changes(estate)),
    ):
        new_pages[name] = _write_if_changed(out, name, text.encode("utf-8"), old_pages, report)
    for name, content in render.ASSETS.items():
        new_pages[name] = _write_if_changed(out, name, content, old_pages, report)
    for page in sorted(set(old_pages) - set(new_pages)):
        _remove(out, page, report)
    report.pages = len(new_pages)
    (out / MANIFEST).write_text(json.dumps({"version": version, "pages": new_pages}, sort_keys=True))
    return report


def _item_pages(
    source: AccountSource,
    issues: list[IssueRow],
    changes: Sequence[FileChange],
    old_pages: dict[str, str],
    new_pages: dict[str, str],
    out: Path,
    report: SiteReport,
    version: str,
) -> None:
    """Render the pages of the account's items whose digest changed; record every page's digest."""
    from gitmonkey.notify.links import file_url
    from gitmonkey.site import render

    by_item: dict[str, list[IssueRow]] = {}
    for issue in issues:
        if issue.page:
            by_item.setdefault(issue.page, []).append(issue)
    wanted: dict[str, tuple[str, str]] = {}
    for path, blob in source.items.items():
        issue_blob = source.issue_files.get("issues/" + path[len("items/") : -len(".json")] + ".yaml", "")
        digest = hashlib.sha256(f"{version}\0{blob}\0{issue_blob}\0{source.web}".encode()).hexdigest()
        wanted[path] = (blob, digest)
    todo = {}
    for path, (blob, digest) in wanted.items():
        try:
            location = paths.parse_item_path(path)
        except ValueError:
            continue
        page = item_page(source.name, location.region, location.technology, location.id or location.name)
        new_pages[page] = digest
        if old_pages.get(page) != digest or not (out / page).exists():
            todo[path] = (page, blob)
    if not todo:
        return
    contents = source.repo.read_blobs({blob for _, blob in todo.values()})
    histories = source.histories(changes, todo)
    for path, (page, blob) in sorted(todo.items()):
        try:
            document = json.loads(contents[blob])
        except (KeyError, ValueError) as exc:
            report.errors.append(f"{source.name}: {path}: not readable JSON ({exc})")
            continue
        view = ItemView(
            account=source.name,
            account_id=source.account.id,
            region=str(document.get("region") or ""),
            technology=str(document.get("technology") or ""),
            item_id=str(document.get("id") or ""),
            name=str(document.get("name") or document.get("id") or ""),
            arn=str(document.get("arn") or ""),
            document=document,
            issues=sorted(by_item.get(page, []), key=lambda i: -i.score),
            history=histories.get(path, []),
            file_url=file_url(source.web, source.repo.BRANCH, path) or "",
        )
        last = view.history[0].date if view.history else ""
        _write(out, page, render.render_item(view, last).encode("utf-8"), report)


def _when(iso: str) -> datetime:
    """The time of a commit (git's ``%aI``: always set and well formed)."""
    when = parse_time(iso)
    if when is None:
        raise ValueError(f"a commit without a date: {iso!r}")
    return when


def _load_manifest(out: Path) -> dict:
    if not out.exists():
        return {}
    if not out.is_dir():
        raise SiteError(f"{out} is not a directory")
    manifest = out / MANIFEST
    if not manifest.exists():
        if any(out.iterdir()):
            raise SiteError(
                f"{out} is not empty and holds no gitmonkey site ({MANIFEST} is missing); "
                "choose an empty or new directory"
            )
        return {}
    try:
        data = json.loads(manifest.read_text())
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _write_if_changed(
    out: Path, page: str, content: bytes, old_pages: dict[str, str], report: SiteReport
) -> str:
    digest = hashlib.sha256(content).hexdigest()
    if old_pages.get(page) != digest or not (out / page).exists():
        _write(out, page, content, report)
    return digest


def _write(out: Path, page: str, content: bytes, report: SiteReport) -> None:
    target = _inside(out, page)
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(target.name + ".tmp")
    temporary.write_bytes(content)
    os.replace(temporary, target)
    report.written.append(page)


def _remove(out: Path, page: str, report: SiteReport) -> None:
    target = _inside(out, page)
    if target.exists():
        target.unlink()
        report.removed.append(page)


def _inside(out: Path, page: str) -> Path:
    """The file of ``page`` under ``out``; a page address that leaves ``out`` is a bug, refused."""
    target = (out / page).resolve()
    if not target.is_relative_to(out.resolve()):
        raise SiteError(f"page {page!r} is outside {out}")
    return target

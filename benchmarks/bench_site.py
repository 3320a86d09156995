"""`gitmonkey site` over a 20,000-item account: a full build, and the rebuild after a one-item change.

The account: 20,000 buckets (one in ten public), audited with two rules so that 2,000 items have an
issue file. The baseline, measured in the same run, is reading the same files: listing the tree,
reading and parsing every item and issue file.

- ``site_full_build``: the first build into an empty directory (every page rendered and written).
- ``site_incremental_rebuild``: after one bucket is changed and audited, the rebuild (the estate
  pages and that one item page rewritten).
- ``site_unchanged_rebuild``: a rebuild with nothing changed (nothing written).
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from benchmarks.bench_hook import ACCOUNT_ID, ITEMS, _bucket
from gitmonkey.audit.run import audit_all, audit_ranges
from gitmonkey.config import load_config
from gitmonkey.site.build import build_site
from gitmonkey.store import AccountRepository, FileChange, PlannedCommit

RULES = ("s3.bucket.policy-internet", "s3.bucket.no-policy")


def _setup(root: Path) -> tuple[Any, AccountRepository]:
    root.mkdir(parents=True, exist_ok=True)
    overrides = [{"rule": "*", "disabled": True}, *({"rule": r, "disabled": False} for r in RULES)]
    config_path = root / "gitmonkey.yaml"
    config_path.write_text(
        yaml.safe_dump(
            {
                "repos_dir": "accounts",
                "audit": {"overrides": overrides},
                "accounts": [{"name": "bench", "id": ACCOUNT_ID}],
            }
        )
    )
    repo = AccountRepository.open(root / "accounts" / "bench")
    repo.commit(
        [PlannedCommit("baseline", tuple(FileChange(*_bucket(i, public=i % 10 == 0)) for i in range(ITEMS)))]
    )
    config = load_config(config_path)
    audit_all(repo, config, config.accounts[0])
    return config, repo


def _read_floor(repo: AccountRepository) -> float:
    start = time.perf_counter()
    blobs = repo.list_blobs("")
    contents = repo.read_blobs({s for p, s in blobs.items() if p.startswith(("items/", "issues/"))})
    for path, sha in blobs.items():
        if path.startswith("items/"):
            json.loads(contents[sha])
        elif path.startswith("issues/"):
            yaml.load(contents[sha], Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # noqa: S506
    return time.perf_counter() - start


def _timed(name: str, config: Any, out: Path, floor: float) -> dict[str, Any]:
    start = time.perf_counter()
    report = build_site(config, out)
    seconds = time.perf_counter() - start
    return {
        "name": name,
        "pages": report.pages,
        "written": len(report.written),
        "build_s": round(seconds, 2),
        "baseline_s": round(floor, 2),
        "baseline": "list + read + parse every item and issue file",
        "ratio": round(seconds / floor, 1),
    }


def run() -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory() as tmp:
        config, repo = _setup(Path(tmp) / "estate")
        floor = _read_floor(repo)
        out = Path(tmp) / "site"
        figures = [_timed("site_full_build", config, out, floor)]
        old = repo.head()
        repo.commit([PlannedCommit("one bucket made public", (FileChange(*_bucket(1, public=True)),))])
        audit_ranges(repo, config, config.accounts[0], [(old, repo.head())])
        figures.append(_timed("site_incremental_rebuild", config, out, floor))
        figures.append(_timed("site_unchanged_rebuild", config, out, floor))
    return figures

"""The store against raw ``git fast-import`` on a synthetic 20,000-item account.

Figures:
- ``store_vs_fast_import``: baseline commit + 1,000 single-item commits + an unchanged resync
  through :class:`AccountRepository` (working tree included), against ``git fast-import`` alone
  fed the same commits from a stream this module writes itself (target: ratio <= 2).
- ``store_unchanged_resync``: what a sync of an unchanged account costs the store —
  ``list_blobs`` + ``blob_sha`` of every item, no commit — against ``git ls-tree -r`` alone
  (target: under 1 s).
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gitmonkey.store import AccountRepository, FileChange, PlannedCommit

REGIONS = ("us-east-1", "eu-west-1", "ap-southeast-2")
GLOBAL_LAYOUT = {"iam/role": 3000, "iam/user": 1500, "iam/policy": 1500, "s3/bucket": 2000}
REGIONAL_LAYOUT = {"ec2/security_group": 2000, "ec2/instance": 1000, "lambda/function": 1000}
MODIFICATIONS = 1000
REPEAT = int(os.environ.get("GITMONKEY_BENCH_REPEAT", "3"))
STAMP = b"1714979289 +0000"
IDENTITY = b"gitmonkey <gitmonkey@localhost>"


def _document(rng: random.Random, region: str, technology: str, item_id: str, version: int) -> bytes:
    """About 1 KB of canonical JSON shaped like an item document."""
    rules = [
        {"CidrIp": f"10.{rng.randrange(256)}.{rng.randrange(256)}.0/24", "FromPort": port, "ToPort": port,
         "IpProtocol": "tcp"}
        for port in sorted(rng.sample([22, 80, 443, 3306, 5432, 6379, 8080, 8443, 9200], 5))
    ]
    document = {
        "account": "123456789012",
        "arn": f"arn:aws:{technology.split('.')[0]}:{region}:123456789012:{item_id}",
        "configuration": {"Description": f"synthetic {technology} {item_id}", "Rules": rules,
                          "Tags": {"Owner": f"team-{rng.randrange(40)}", "Version": str(version)}},
        "id": item_id, "name": item_id, "region": region, "technology": technology,
    }
    return (json.dumps(document, indent=2, sort_keys=True) + "\n").encode()


def synthetic_account(seed: int = 7) -> dict[str, bytes]:
    rng = random.Random(seed)
    items: dict[str, bytes] = {}
    layout = [("global", kind, count) for kind, count in GLOBAL_LAYOUT.items()]
    layout += [(region, kind, count) for region in REGIONS for kind, count in REGIONAL_LAYOUT.items()]
    for region, kind, count in layout:
        technology = kind.replace("/", ".")
        for n in range(count):
            item_id = f"{kind.split('/')[1]}-{n:05d}"
            items[f"items/{region}/{kind}/{item_id}.json"] = _document(rng, region, technology, item_id, 0)
    return items


def modifications(items: dict[str, bytes], seed: int = 11) -> list[tuple[str, bytes, str]]:
    """1,000 single-item changes: (path, new content, commit message with trailers)."""
    rng = random.Random(seed)
    changes = []
    for version, path in enumerate(rng.sample(sorted(items), MODIFICATIONS), 1):
        content = items[path].replace(b'"Version": "0"', b'"Version": "%d"' % version)
        _, region, service, kind, name = path.split("/")
        message = (f"{service}.{kind} {name[:-5]}: modified\n\nconfiguration.Tags.Version\n\n"
                   f"Gitmonkey-Technology: {service}.{kind}\nGitmonkey-Region: {region}\n")
        changes.append((path, content, message))
    return changes


def _raw_stream(commits: list[tuple[str, list[tuple[str, bytes]]]], parent: bytes | None) -> bytes:
    parts: list[bytes] = []
    for n, (message, files) in enumerate(commits):
        msg = message.encode()
        parts += [b"commit refs/heads/main\n", b"author %s %s\n" % (IDENTITY, STAMP),
                  b"committer %s %s\n" % (IDENTITY, STAMP), b"data %d\n" % len(msg), msg, b"\n"]
        if n == 0 and parent:
            parts.append(b"from " + parent + b"\n")
        for path, content in files:
            parts += [b"M 100644 inline ", path.encode(), b"\ndata %d\n" % len(content), content, b"\n"]
        parts.append(b"\n")
    parts.append(b"done\n")
    return b"".join(parts)


def _timed(func: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = func()
    return time.perf_counter() - start, result


def _best(func: Callable[[], Any], repeat: int = 3) -> float:
    return min(_timed(func)[0] for _ in range(repeat))


def _raw_fast_import(path: Path, baseline: bytes, updates: bytes) -> None:
    subprocess.run(["git", "init", "-q", "-b", "main", str(path)], check=True)
    for stream in (baseline, updates):
        subprocess.run(["git", "fast-import", "--quiet", "--done"], cwd=path, input=stream, check=True)


def _resync(repo: AccountRepository, items: dict[str, bytes]) -> list[str]:
    blobs = repo.list_blobs("items")
    changed = [p for p, content in items.items() if blobs.get(p) != repo.blob_sha(content)]
    return changed + [p for p in blobs if p not in items]


def _store_run(path: Path, baseline: PlannedCommit, planned: list[PlannedCommit], final: dict[str, bytes]
               ) -> tuple[AccountRepository, dict[str, float]]:
    repo = AccountRepository.open(path)
    base_s, _ = _timed(lambda: repo.commit([baseline]))
    mods_s, shas = _timed(lambda: repo.commit(planned))
    resync_s, left = _timed(lambda: _resync(repo, final))
    if left or len(shas) != len(planned):
        raise RuntimeError(f"store benchmark is wrong: {len(left)} items differ after the commits")
    return repo, {"baseline": base_s, "commits": mods_s, "resync": resync_s,
                  "total": base_s + mods_s + resync_s}


def run(repeat: int = REPEAT) -> list[dict[str, Any]]:
    """Alternate raw and store runs ``repeat`` times and keep the best of each (the machine is shared)."""
    items = synthetic_account()
    changes = modifications(items)
    final = dict(items)
    final.update({path: content for path, content, _ in changes})
    baseline_commit = PlannedCommit("baseline: 20000 items\n",
                                    tuple(FileChange(p, c) for p, c in items.items()))
    planned = [PlannedCommit(m, (FileChange(p, c),)) for p, c, m in changes]
    raw_baseline = _raw_stream([("baseline: 20000 items\n", list(items.items()))], None)
    raw_updates = _raw_stream([(m, [(p, c)]) for p, c, m in changes], b"refs/heads/main^0")

    raw_times: list[float] = []
    store_times: list[dict[str, float]] = []
    with tempfile.TemporaryDirectory(prefix="gitmonkey-bench-") as tmp:
        root = Path(tmp)
        for n in range(repeat):
            raw_s, _ = _timed(lambda n=n: _raw_fast_import(root / f"raw{n}", raw_baseline, raw_updates))
            raw_times.append(raw_s)
            repo, phases = _store_run(root / f"store{n}", baseline_commit, planned, final)
            store_times.append(phases)
        raw_tree = subprocess.run(["git", "rev-parse", "main^{tree}"], cwd=root / "raw0", capture_output=True,
                                  text=True, check=True).stdout
        if raw_tree != repo.git("rev-parse", "main^{tree}"):
            raise RuntimeError("the store and raw fast-import produced different trees")
        resync_best = _best(lambda: _resync(repo, final))
        ls_tree_best = _best(lambda: subprocess.run(["git", "ls-tree", "-r", "HEAD"], cwd=repo.path,
                                                    capture_output=True, check=True))
    best = min(store_times, key=lambda t: t["total"])
    raw_s = min(raw_times)
    store_s = best["total"]
    return [
        {"name": "store_vs_fast_import", "items": len(items), "commits": MODIFICATIONS + 1, "runs": repeat,
         "store_s": round(store_s, 3), "store_baseline_commit_s": round(best["baseline"], 3),
         "store_1000_commits_s": round(best["commits"], 3),
         "store_unchanged_resync_s": round(best["resync"], 3),
         "baseline_s": round(raw_s, 3), "ratio": round(store_s / raw_s, 2), "target": "<= 2",
         "ok": store_s / raw_s <= 2},
        {"name": "store_unchanged_resync", "items": len(final), "store_s": round(resync_best, 3),
         "baseline_s": round(ls_tree_best, 3), "ratio": round(resync_best / ls_tree_best, 2),
         "target": "< 1 s", "ok": resync_best < 1.0},
    ]

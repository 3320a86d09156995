"""Hook latency for a one-item commit, and audit throughput over 20,000 synthetic items.

- ``hook_latency``: ``python -m gitmonkey.hooks post-commit`` after a one-item commit (interpreter
  start, imports, rules, the audit and its commit), against ``python -c pass`` as the baseline.
- ``hook_imports_no_boto3``: whether the hook's import path loads boto3/botocore (it must not).
- ``audit_all_throughput``: ``audit --all`` over 20,000 items (no issue files yet), against the
  audit's I/O floor measured in the same run: listing, reading and parsing every item.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from gitmonkey.audit.run import audit_all
from gitmonkey.config import load_config
from gitmonkey.hooks import install_hooks
from gitmonkey.normalize import canonical_json
from gitmonkey.normalize.paths import item_path
from gitmonkey.store import AccountRepository, FileChange, PlannedCommit

ITEMS = 20_000
ACCOUNT_ID = "123456789012"
REPEAT = 5


def _bucket(i: int, public: bool = False) -> tuple[str, bytes]:
    name = f"bucket-{i:05d}"
    statement = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{name}/*",
                 "Principal": "*" if public else {"AWS": f"arn:aws:iam::{ACCOUNT_ID}:root"}}
    configuration = {
        "Region": "us-east-1",
        "Policy": {"Version": "2012-10-17", "Statement": [statement]},
        "PublicAccessBlockConfiguration": {"BlockPublicAcls": True, "IgnorePublicAcls": True,
                                           "BlockPublicPolicy": True, "RestrictPublicBuckets": True},
        "ServerSideEncryptionConfiguration": {"Rules": [{"ApplyServerSideEncryptionByDefault":
                                                         {"SSEAlgorithm": "AES256"}}]},
        "Versioning": {"Status": "Enabled"},
        "Tags": {"team": f"t{i % 37}", "env": "prod"},
    }
    document = {"account": ACCOUNT_ID, "arn": f"arn:aws:s3:::{name}", "configuration": configuration,
                "id": name, "name": name, "region": "us-east-1", "technology": "s3.bucket"}
    return item_path("us-east-1", "s3.bucket", name), canonical_json(document).encode()


def _setup(root: Path, items: int) -> tuple[Path, AccountRepository]:
    root.mkdir(parents=True, exist_ok=True)
    config_path = root / "gitmonkey.yaml"
    config_path.write_text(yaml.safe_dump({"repos_dir": "accounts",
                                           "accounts": [{"name": "bench", "id": ACCOUNT_ID}]}))
    repo = AccountRepository.open(root / "accounts" / "bench")
    changes = tuple(FileChange(*_bucket(i, public=i % 10 == 0)) for i in range(items))
    repo.commit([PlannedCommit("baseline", changes)])
    return config_path, repo


# An installed package has its bytecode compiled (pip does it at install time); a source checkout
# run with PYTHONDONTWRITEBYTECODE would recompile every module on each hook and measure that.
_INSTALLED_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def _best(command: list[str], cwd: Path) -> float:
    best = float("inf")
    for _ in range(REPEAT):
        start = time.perf_counter()
        subprocess.run(command, cwd=cwd, check=True, capture_output=True)
        best = min(best, time.perf_counter() - start)
    return best


def hook_latency(root: Path) -> list[dict[str, Any]]:
    config_path, repo = _setup(root, 1000)
    install_hooks(repo.path, config_path)
    command = [sys.executable, "-m", "gitmonkey.hooks", "post-commit", "--config", str(config_path)]
    best = float("inf")
    for i in range(REPEAT):
        repo.commit([PlannedCommit(f"one item {i}", (FileChange(*_bucket(1, public=i % 2 == 0)),))])
        start = time.perf_counter()
        subprocess.run(command, cwd=repo.path, check=True, capture_output=True, env=_INSTALLED_ENV)
        best = min(best, time.perf_counter() - start)
        if not repo.git("log", "-1", "--format=%s").startswith("audit: "):
            raise RuntimeError("the hook made no audit commit; the benchmark measured nothing")
    baseline = _best([sys.executable, "-c", "pass"], root)
    probe = subprocess.run(
        [sys.executable, "-c", "import sys, json, gitmonkey.cli, gitmonkey.hooks, gitmonkey.audit.run, "
         "gitmonkey.audit.rules; print(json.dumps(['boto3' in sys.modules, 'botocore' in sys.modules]))"],
        check=True, capture_output=True, text=True,
    )
    boto3_loaded, botocore_loaded = json.loads(probe.stdout)
    return [
        {"name": "hook_latency", "hook_s": round(best, 3), "baseline_s": round(baseline, 3),
         "baseline": "python -c pass", "ratio": round(best / baseline, 1), "target": "hook_s < 0.3"},
        {"name": "hook_imports_no_boto3", "boto3": boto3_loaded, "botocore": botocore_loaded,
         "baseline": False, "target": "both false"},
    ]


def audit_throughput(root: Path) -> dict[str, Any]:
    config_path, repo = _setup(root, ITEMS)
    config = load_config(config_path)
    start = time.perf_counter()
    blobs = repo.list_blobs("items/")
    contents = repo.read_blobs(blobs.values())
    parsed = [json.loads(c) for c in contents.values()]
    baseline = time.perf_counter() - start
    start = time.perf_counter()
    result = audit_all(repo, config, config.accounts[0])
    seconds = time.perf_counter() - start
    if result.audited != len(parsed):
        raise RuntimeError(f"audited {result.audited} of {len(parsed)} items")
    return {"name": "audit_all_throughput", "items": result.audited, "audit_s": round(seconds, 2),
            "items_per_s": round(result.audited / seconds), "baseline_s": round(baseline, 2),
            "baseline": "list + read + parse every item", "ratio": round(seconds / baseline, 1),
            "issues_new": result.counts()["new"]}


def run() -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory() as tmp:
        figures = hook_latency(Path(tmp) / "latency")
        figures.append(audit_throughput(Path(tmp) / "throughput"))
    return figures

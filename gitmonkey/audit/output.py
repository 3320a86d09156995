"""Reading issue files back and printing them: table, JSON, CSV and SARIF 2.1.0.

SARIF results point at the item's JSON file and at the line of the offending JSON path in its
canonical form (sorted keys, 2-space indent), so GitHub code scanning shows them in place. The
file's URI is percent-encoded: an escaped id's ``%2f`` must reach the consumer as ``%252f``.

CSV cells that a spreadsheet would run as a formula (AWS names may start with ``=``, ``+``,
``-`` or ``@``) are prefixed with ``'``, as OWASP advises for CSV injection; every text cell is
quoted, so a CR or a newline inside a cell stays in it.
"""

from __future__ import annotations

import csv
import io
import json
import re
import urllib.parse
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from gitmonkey import __version__
from gitmonkey.audit.issues import ISSUES_PREFIX, Issue, IssueFile, IssueFileError, ItemRef

if TYPE_CHECKING:
    from gitmonkey.store import AccountRepository

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
SARIF_VERSION = "2.1.0"
FINGERPRINT_KEY = "gitmonkeyFingerprint/v1"
_TOKEN = re.compile(r"\(([^)]*)\)|\[(\d+)\]|([^.\[\]()]+)")


@dataclass(frozen=True)
class IssueRow:
    account: str
    account_id: str
    item: ItemRef
    issue: Issue

    def to_dict(self) -> dict[str, Any]:
        data = {"account": self.account, "account_id": self.account_id, "item": self.item.to_dict()}
        data.update(self.issue.to_dict())
        return data


def read_issue_rows(repo: AccountRepository, account_name: str, account_id: str,
                    errors: list[str] | None = None) -> list[IssueRow]:
    """Every issue recorded at HEAD of one account repository; unreadable files go to ``errors``."""
    blobs = repo.list_blobs(ISSUES_PREFIX)
    contents = repo.read_blobs(blobs.values())
    rows = []
    for path in sorted(blobs):
        try:
            issue_file = IssueFile.load(contents[blobs[path]], path)
        except IssueFileError as exc:
            if errors is not None:
                errors.append(str(exc))
            continue
        rows += [IssueRow(account_name, account_id, issue_file.item, i) for i in issue_file.issues]
    return rows


def filter_rows(
    rows: Iterable[IssueRow],
    *,
    technology: str | None = None,
    min_score: int | None = None,
    justified: bool | None = None,
) -> list[IssueRow]:
    import fnmatch

    return [
        r for r in rows
        if (technology is None or fnmatch.fnmatchcase(r.item.technology, technology))
        and (min_score is None or r.issue.score >= min_score)
        and (justified is None or r.issue.justified == justified)
    ]


def sort_rows(rows: Iterable[IssueRow]) -> list[IssueRow]:
    return sorted(rows, key=lambda r: (r.account, -r.issue.score, r.item.technology, r.item.region,
                                       r.item.id, r.issue.rule, r.issue.fingerprint))


# -- text formats ---------------------------------------------------------------------------------

TABLE_COLUMNS = ("score", "account", "technology", "region", "item", "rule", "status", "fingerprint",
                 "details")


def _table_values(row: IssueRow) -> tuple[str, ...]:
    status = "justified" if row.issue.justified else ("regressed" if row.issue.regressed else "open")
    return (str(row.issue.score), row.account, row.item.technology, row.item.region, row.item.id,
            row.issue.rule, status, row.issue.fingerprint, _one_line(row.issue.details or row.issue.title))


def _one_line(text: str) -> str:
    return "".join(c if c.isprintable() else " " for c in text)


def render_table(rows: Iterable[IssueRow]) -> str:
    values = [_table_values(r) for r in rows]
    if not values:
        return "no issues\n"
    widths = [max(len(c), *(len(v[i]) for v in values)) for i, c in enumerate(TABLE_COLUMNS)]
    lines = []
    for cells in (TABLE_COLUMNS, *values):
        lines.append("  ".join(cell.ljust(w) for cell, w in zip(cells[:-1], widths[:-1], strict=True))
                     + "  " + cells[-1])
    return "\n".join(line.rstrip() for line in lines) + "\n"


def render_json(rows: Iterable[IssueRow]) -> str:
    return json.dumps([r.to_dict() for r in rows], indent=2, sort_keys=True, ensure_ascii=False) + "\n"


CSV_COLUMNS = ("account", "account_id", "technology", "region", "item_id", "item_name", "rule", "score",
               "justified", "regressed", "fingerprint", "title", "details", "path", "first_seen_commit",
               "first_seen_date", "item_path")


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> Any:
    """``value``, with ``'`` put before a string a spreadsheet would evaluate as a formula."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def render_csv(rows: Iterable[IssueRow]) -> str:
    out = io.StringIO()
    # Minimal quoting with a "\n" terminator would leave a CR inside a cell unquoted, splitting the row.
    writer = csv.writer(out, lineterminator="\n", quoting=csv.QUOTE_NONNUMERIC)
    writer.writerow(CSV_COLUMNS)
    for r in rows:
        writer.writerow(csv_cell(cell) for cell in [
            r.account, r.account_id, r.item.technology, r.item.region, r.item.id, r.item.name, r.issue.rule,
            r.issue.score, str(r.issue.justified).lower(), str(r.issue.regressed).lower(),
            r.issue.fingerprint,
            r.issue.title, r.issue.details, r.issue.path, r.issue.first_seen_commit, r.issue.first_seen_date,
            r.item.path,
        ])
    return out.getvalue()


# -- SARIF ------------------------------------------------------------------------------------------


def json_line_index(document: Any) -> dict[tuple[Any, ...], int]:
    """1-based line of every node of ``document`` as written in canonical JSON (sorted, indent 2)."""
    index: dict[tuple[Any, ...], int] = {}

    def walk(value: Any, path: tuple[Any, ...], line: int) -> int:
        index[path] = line
        if isinstance(value, dict) and value:
            current = line
            for key in sorted(value):
                current = walk(value[key], (*path, key), current + 1)
            return current + 1
        if isinstance(value, list) and value:
            current = line
            for i, element in enumerate(value):
                current = walk(element, (*path, i), current + 1)
            return current + 1
        return line

    walk(document, (), 1)
    return index


def resolve_path(document: Any, path: str) -> tuple[Any, ...]:
    """The longest prefix of a finding's JSON path (``a.b[2].c``) that exists in ``document``."""
    resolved: list[Any] = []
    node = document
    for match in _TOKEN.finditer(path):
        quoted, index, key = match.groups()
        if index is not None and isinstance(node, list) and int(index) < len(node):
            step: Any = int(index)
        elif index is None and isinstance(node, dict) and (quoted if quoted is not None else key) in node:
            step = quoted if quoted is not None else key
        else:
            break
        resolved.append(step)
        node = node[step]
    return tuple(resolved)


def line_of(document: Any, path: str, index: Mapping[tuple[Any, ...], int] | None = None) -> int:
    index = index if index is not None else json_line_index(document)
    return index.get(resolve_path(document, path), 1)


def _level(score: int) -> str:
    if score >= 8:
        return "error"
    if score >= 4:
        return "warning"
    return "note"


def compliance_tags(compliance: Mapping[str, Iterable[str]] | None) -> list[str]:
    """SARIF tags naming the framework controls a rule implements: ``["cis-aws-3.0/5.2", "fsbp/EC2.19"]``."""
    return [f"{framework}/{control}" for framework in sorted(compliance or {})
            for control in (compliance or {})[framework]]


def _builtin_compliance() -> dict[str, dict[str, tuple[str, ...]]]:
    """The ``compliance`` declarations of the built-in rules (for ``rule_info`` without them)."""
    from pathlib import Path

    from gitmonkey.audit.rules import RuleSet

    try:
        return {r.id: r.compliance for r in RuleSet.load({}, base_dir=Path.cwd()).rules if r.compliance}
    except Exception:  # a broken plugin must not break the SARIF output; its rules just go untagged
        return {}


def render_sarif(
    runs: Iterable[tuple[str, list[IssueRow], Mapping[str, bytes]]],
    rule_info: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """A SARIF 2.1.0 log, one run per account: ``(account, rows, {item path: file content})``.

    ``rule_info`` (rule id -> title/description/remediation/score/compliance) enriches the rule
    descriptors. The framework controls a rule implements (its ``compliance``; taken from the
    built-in rules when ``rule_info`` does not give them) become tags such as ``cis-aws-3.0/5.2``
    on its descriptor and on each of its results.
    """
    rule_info = rule_info or {}
    builtin: dict[str, dict[str, tuple[str, ...]]] | None = None
    tags_of: dict[str, list[str]] = {}

    def rule_tags(rule_id: str) -> list[str]:
        nonlocal builtin
        if rule_id not in tags_of:
            info = rule_info.get(rule_id, {})
            if "compliance" in info:
                compliance = info["compliance"]
            else:
                if builtin is None:
                    builtin = _builtin_compliance()
                compliance = builtin.get(rule_id)
            tags_of[rule_id] = compliance_tags(compliance)
        return tags_of[rule_id]

    sarif_runs = []
    for account, rows, item_files in runs:
        rule_ids = sorted({r.issue.rule for r in rows})
        rule_index = {rule_id: i for i, rule_id in enumerate(rule_ids)}
        descriptors = []
        for rule_id in rule_ids:
            info = rule_info.get(rule_id, {})
            example = next(r.issue for r in rows if r.issue.rule == rule_id)
            title = str(info.get("title") or example.title or rule_id)
            score = int(info.get("score", example.score))
            descriptor: dict[str, Any] = {
                "id": rule_id,
                "name": rule_id,
                "shortDescription": {"text": title},
                "fullDescription": {"text": str(info.get("description") or title)},
                "defaultConfiguration": {"level": _level(score)},
                "properties": {"security-severity": f"{min(float(score), 10.0):.1f}",
                               "tags": ["security", *rule_tags(rule_id)]},
            }
            if info.get("remediation"):
                descriptor["help"] = {"text": str(info["remediation"])}
            descriptors.append(descriptor)
        indexes: dict[str, tuple[Any, dict[tuple[Any, ...], int]]] = {}
        results = []
        for row in rows:
            if row.item.path not in indexes:
                content = item_files.get(row.item.path)
                document = json.loads(content) if content else {}
                indexes[row.item.path] = (document, json_line_index(document))
            document, index = indexes[row.item.path]
            line = line_of(document, row.issue.path, index)
            result: dict[str, Any] = {
                "ruleId": row.issue.rule,
                "ruleIndex": rule_index[row.issue.rule],
                "level": _level(row.issue.score),
                "message": {"text": _one_line(f"{row.issue.title}: {row.issue.details}" if row.issue.details
                                              else row.issue.title)},
                "locations": [{
                    "physicalLocation": {
                        "artifactLocation": {"uri": urllib.parse.quote(row.item.path, safe="/"),
                                             "uriBaseId": "%SRCROOT%"},
                        "region": {"startLine": line},
                    },
                    "logicalLocations": [{"fullyQualifiedName": f"{row.item.technology}/{row.item.region}/"
                                                                f"{row.item.id}", "kind": "resource"}],
                }],
                "partialFingerprints": {FINGERPRINT_KEY: row.issue.fingerprint},
                "properties": {"score": row.issue.score, "account": account, "jsonPath": row.issue.path},
            }
            if rule_tags(row.issue.rule):
                result["properties"]["tags"] = rule_tags(row.issue.rule)
            if row.issue.justified:
                result["suppressions"] = [{
                    "kind": "external",
                    "status": "accepted",
                    "justification": _one_line(str((row.issue.justification or {}).get("reason", ""))),
                }]
            results.append(result)
        sarif_runs.append({
            "tool": {"driver": {"name": "gitmonkey", "version": __version__, "rules": descriptors}},
            "automationDetails": {"id": f"gitmonkey/{account}/"},
            "results": results,
        })
    return {"$schema": SARIF_SCHEMA, "version": SARIF_VERSION, "runs": sarif_runs}

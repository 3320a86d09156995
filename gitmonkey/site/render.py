"""The site's pages, rendered from ``gitmonkey.site.model`` with the Jinja2 templates of this package.

Every string of the model is untrusted (item names and tags come from AWS, account names and commit
subjects from users): the templates autoescape all of it, and nothing here marks untrusted text safe.
The only ``Markup`` built in Python is made of escaped pieces (``_document_html``, ``_diff_html``
and the charts of ``gitmonkey.site.charts``).

Pages carry a Content-Security-Policy that forbids inline script and style, so all behaviour is in
``assets/site.js`` and all presentation in ``assets/site.css``. Links are relative (an item page
reaches the root through ``../`` per directory level), so the site works from ``file://`` and from
any sub-path of GitHub / GitLab Pages.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from datetime import UTC
from importlib import resources
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import jinja2
import jmespath.exceptions
import jmespath.parser
from markupsafe import Markup, escape

from gitmonkey.site import charts
from gitmonkey.site.model import BANDS, Change, Estate, IssueRow, ItemView, Revision, band
from gitmonkey.status import read_time

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "base-uri 'none'; form-action 'none'"
)
"""The Content-Security-Policy of every page. ``'self'`` matches the site's own files from
``https://`` Pages and, in Chromium, from ``file://`` too (checked by tests/test_site_render.py)."""

BAND_NAMES: tuple[str, ...] = tuple(name for name, _, _ in BANDS)
OVERVIEW_LIST_LIMIT = 25
"""Issues listed per account on the overview (the issues page has them all)."""
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_SURROGATE = re.compile("[\ud800-\udfff]")

Segment = str | int
"""A step in a JSON document: an object key or a list index."""


def _load_asset(name: str) -> bytes:
    return resources.files("gitmonkey.site").joinpath("assets", name).read_bytes()


ASSETS: dict[str, bytes] = {f"assets/{name}": _load_asset(name) for name in ("site.css", "site.js")}


# --- the JSON document with the path of each line ---------------------------------------------------


def format_path(segments: Sequence[Segment]) -> str:
    """The path of ``segments`` in the form of the audit's issue paths (``gitmonkey.audit.filters.base``
    ``_join``): ``configuration.IpPermissions[0].IpRanges[1]``; a key that is not an identifier is
    a JMESPath quoted identifier in parentheses: ``configuration.("odd key")``."""
    path = ""
    for segment in segments:
        path = _child_path(path, segment)
    return path


def parse_path(path: str) -> tuple[list[Segment], bool]:
    """The segments of an issue path and whether all of it was understood.

    Issue paths are built by ``_join``: dotted identifiers, ``[n]`` indices and ``.(expression)``
    for a JMESPath key that is not a plain dotted identifier. An expression made of fields and
    indices (``"odd key"``, ``Tags."aws:x"``, ``a[0]``) is resolved; any other (a function, a
    multi-select) stops the parse: the segments before it are returned with ``False``.
    """
    segments: list[Segment] = []
    i, n = 0, len(path)
    while i < n:
        char = path[i]
        if char == "." and segments:
            i += 1
            continue
        match = _IDENTIFIER.match(path, i)
        if match:
            segments.append(match.group())
            i = match.end()
        elif char == "[":
            end = path.find("]", i)
            if end < 0 or not path[i + 1 : end].isdigit():
                return segments, False
            segments.append(int(path[i + 1 : end]))
            i = end + 1
        elif char == "(":
            end = _closing_paren(path, i)
            inner = _expression_segments(path[i + 1 : end]) if end > 0 else None
            if inner is None:
                return segments, False
            segments.extend(inner)
            i = end + 1
        else:
            return segments, False
    return segments, True


def _closing_paren(text: str, start: int) -> int:
    """The index of the parenthesis closing the one at ``start`` (-1 if none), skipping quoted text."""
    depth, i, quote_char = 0, start, ""
    while i < len(text):
        char = text[i]
        if quote_char:
            if char == "\\":
                i += 1
            elif char == quote_char:
                quote_char = ""
        elif char in "\"'`":
            quote_char = char
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return -1


def _expression_segments(expression: str) -> list[Segment] | None:
    try:
        node = jmespath.parser.Parser().parse(expression).parsed
    except jmespath.exceptions.JMESPathError:
        return None
    return _node_segments(node)


def _node_segments(node: dict[str, Any]) -> list[Segment] | None:
    kind = node.get("type")
    if kind == "field":
        return [node["value"]]
    if kind == "current":
        return []
    if kind == "index" and isinstance(node.get("value"), int) and node["value"] >= 0:
        return [node["value"]]
    if kind in ("subexpression", "index_expression"):
        out: list[Segment] = []
        for child in node.get("children", []):
            part = _node_segments(child)
            if part is None:
                return None
            out.extend(part)
        return out
    return None


_ENCODER = json.JSONEncoder(ensure_ascii=False, default=str)


def _json_scalar(value: Any) -> str:
    text = _ENCODER.encode(value)
    # A lone surrogate (possible in an id read from AWS) cannot be encoded in UTF-8: keep it escaped.
    return _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def _child_path(path: str, segment: Segment) -> str:
    """``format_path`` of the segments of ``path`` plus ``segment``."""
    if isinstance(segment, int):
        return f"{path}[{segment}]"
    quoted = segment if _IDENTIFIER.fullmatch(segment) else "(" + _json_scalar(segment) + ")"
    return f"{path}.{quoted}" if path else quoted


def _document_segments(document: Any) -> list[tuple[tuple[Segment, ...], str, str]]:
    """(segments, path, text) per line of ``json.dumps(document, indent=2, sort_keys=True)``."""
    lines: list[tuple[tuple[Segment, ...], str, str]] = []

    def walk(value: Any, segments: tuple[Segment, ...], path: str, depth: int, lead: str, trail: str) -> None:
        pad = "  " * depth
        if isinstance(value, dict) and value:
            lines.append((segments, path, f"{pad}{lead}{{"))
            keys = sorted(value, key=str)
            for index, key in enumerate(keys):
                comma = "," if index < len(keys) - 1 else ""
                name = str(key)
                walk(value[key], (*segments, name), _child_path(path, name), depth + 1,
                     _json_scalar(name) + ": ", comma)
            lines.append((segments, path, f"{pad}}}{trail}"))
        elif isinstance(value, list | tuple) and value:
            lines.append((segments, path, f"{pad}{lead}["))
            last = len(value) - 1
            for index, element in enumerate(value):
                comma = "," if index < last else ""
                walk(element, (*segments, index), f"{path}[{index}]", depth + 1, "", comma)
            lines.append((segments, path, f"{pad}]{trail}"))
        else:
            scalar = "{}" if isinstance(value, dict) else "[]" if isinstance(value, list | tuple) else None
            lines.append((segments, path, f"{pad}{lead}{scalar or _json_scalar(value)}{trail}"))

    walk(document, (), "", 0, "", "")
    return lines


def document_lines(document: Any) -> list[tuple[str, str]]:
    """(path, text) for each line of the pretty-printed document (sorted keys, 2-space indent).

    ``path`` is the JSON path of the value the line belongs to, in the form of the issue paths: a
    key's line and the closing bracket of its object or list have the key's path; the first and last
    lines of the document have the path "".
    """
    return [(path, text) for _, path, text in _document_segments(document)]


def _trusted(parts: Iterable[str]) -> Markup:
    """HTML built here from escaped pieces (every untrusted string went through ``escape``)."""
    return Markup("".join(parts))  # noqa: S704


def _exists(document: Any, segments: Sequence[Segment]) -> bool:
    node = document
    for segment in segments:
        in_list = isinstance(segment, int) and isinstance(node, list) and segment < len(node)
        in_object = isinstance(segment, str) and isinstance(node, dict) and segment in node
        if not (in_list or in_object):
            return False
        node = node[segment]
    return True


def _issue_target(document: Any, path: str) -> tuple[tuple[Segment, ...] | None, tuple[Segment, ...]]:
    """(segments to highlight or None, the segments of the line to link to).

    An issue whose path is understood and present in the document highlights that value. Otherwise
    (a key that is missing, which is often the finding itself, or a path made by an expression) the
    issue links to the deepest part of its path present in the document, highlighting nothing.
    """
    segments, complete = parse_path(path)
    if complete and segments and _exists(document, segments):
        return tuple(segments), tuple(segments)
    while segments and not _exists(document, segments):
        segments.pop()
    return None, tuple(segments)


def _document_html(document: Any, issues: Sequence[IssueRow]) -> tuple[Markup, list[dict[str, Any]]]:
    """The ``<span class="line">`` lines of the document and, per issue, where it points.

    A value's lines are contiguous, from its first line (the key, or ``{`` / ``[``) to its last line
    with the same path (its closing bracket): an issue highlights that range.
    """
    lines = _document_segments(document)
    first: dict[tuple[Segment, ...], int] = {}
    last: dict[tuple[Segment, ...], int] = {}
    for index, (segments, _, _) in enumerate(lines):
        first.setdefault(segments, index)
        last[segments] = index
    marks: dict[int, list[int]] = {}
    refs: dict[int, list[int]] = {}
    links = []
    for number, issue in enumerate(issues, start=1):
        highlight, anchor = _issue_target(document, issue.path)
        if highlight is not None and highlight in first:
            line = first[highlight]
            for index in range(line, last[highlight] + 1):
                marks.setdefault(index, []).append(number)
            refs.setdefault(line, []).append(number)
        else:
            highlight = None
            line = first.get(anchor)
        links.append({
            "number": number,
            "line": None if line is None else line + 1,
            "exact": highlight is not None,
            "nearest": format_path(anchor),
        })
    parts = []
    for index, (_, raw_path, text) in enumerate(lines):
        path = escape(raw_path)
        numbers = marks.get(index)
        if numbers:
            issue_list = " ".join(map(str, numbers))
            links_html = "".join(
                f'<a class="issue-ref" href="#issue-{n}" aria-label="issue {n}">issue {n}</a>'
                for n in refs.get(index, ())
            )
            parts.append(
                f'<span class="line hl" id="L{index + 1}" data-path="{path}" data-issues="{issue_list}">'
                f"{escape(text)}{links_html}\n</span>"
            )
        else:
            parts.append(f'<span class="line" id="L{index + 1}" data-path="{path}">{escape(text)}\n</span>')
    return _trusted(parts), links


# --- diffs, dates, links ----------------------------------------------------------------------------


def diff_lines(diff: str) -> list[tuple[str, str]]:
    """(css class, text) per line of a unified diff: ``meta``, ``hunk``, ``add``, ``del`` or ``ctx``."""
    out = []
    for line in diff.splitlines():
        if line.startswith(("+++", "---")):
            css = "meta"
        elif line.startswith("@@"):
            css = "hunk"
        elif line.startswith("+"):
            css = "add"
        elif line.startswith("-"):
            css = "del"
        else:
            css = "ctx"
        out.append((css, line))
    return out


def _diff_html(diff: str) -> Markup:
    return _trusted(f'<span class="{css}">{escape(text)}</span>' for css, text in diff_lines(diff))


def _utc(value: str) -> str:
    """An ISO date-time as UTC ``YYYY-MM-DDTHH:MM:SSZ`` (sortable as text), or the value itself."""
    parsed = read_time(value) if isinstance(value, str) else None
    if parsed is None:
        return str(value)
    return parsed.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _short_date(value: str) -> str:
    """``2024-05-01 13:02`` (UTC) from an ISO date-time; a bare date or other text is kept."""
    normal = _utc(value)
    if len(value) > 10 and normal.endswith("Z"):
        return normal[:16].replace("T", " ")
    return str(value)


def _when(value: str) -> str:
    """The footer's time: an ISO date-time as ``2024-05-01 13:02 UTC``; other text unchanged."""
    short = _short_date(value)
    return f"{short} UTC" if short != value else value


def page_href(page: str, root: str = "") -> str:
    """A relative link to a site page: its file name components percent-encoded.

    Page file names are escaped ids (``paths.escape_id``) that contain ``%``; a browser decodes
    ``%xx`` in a URL, so the ``%`` must be sent as ``%25`` to reach the file.
    """
    return root + quote(page, safe="/")


def web_href(url: str) -> str:
    """``url`` if it is an http(s) address, else "" (a link to anything else is not made)."""
    try:
        scheme = urlsplit(url).scheme.lower()
    except ValueError:
        return ""
    return url if scheme in ("http", "https") and "\\" not in url else ""


def _filter_hash(values: dict[str, str]) -> str:
    """``#account=prod&band=critical``: the issues page reads its filters from the fragment."""
    return "#" + urlencode({k: v for k, v in values.items() if v}, quote_via=quote)


def _finish(html: str) -> str:
    """Lone surrogates (possible in AWS ids) cannot be written as UTF-8: replace them."""
    return _SURROGATE.sub("\ufffd", html)


# --- pages ------------------------------------------------------------------------------------------


_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("gitmonkey.site", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
    auto_reload=False,
)
_ENV.filters.update(
    page_href=page_href,
    web_href=web_href,
    short_date=_short_date,
    when=_when,
    utc=_utc,
    filter_hash_dict=_filter_hash,
)
_ENV.globals.update(CSP=CSP, BAND_NAMES=BAND_NAMES, BANDS_TABLE=BANDS, band=band)


def _render(template: str, **context: Any) -> str:
    return _finish(_ENV.get_template(template).render(**context))


def _options(values: Iterable[str]) -> list[str]:
    return sorted({v for v in values if v}, key=lambda v: (v.casefold(), v))


def render_overview(estate: Estate) -> str:
    totals = {name: sum(a.open_by_band.get(name, 0) for a in estate.accounts) for name in BAND_NAMES}
    series = {a.name: list(a.issues_over_time) for a in estate.accounts}
    accounts = []
    for number, account in enumerate(estate.accounts, start=1):
        accounts.append({
            "number": number,
            "summary": account,
            "issues_chart": charts.line_chart(
                {account.name: list(account.issues_over_time)}, f"Open issues over time: {account.name}"
            ),
            "changes_chart": charts.bar_chart(
                list(account.changes_per_day), f"Changes per day: {account.name}"
            ),
        })
    return _render(
        "overview.html",
        root="",
        current="overview",
        generated_at=estate.generated_at,
        accounts=accounts,
        totals=totals,
        total_open=sum(totals.values()),
        total_items=sum(a.items for a in estate.accounts),
        total_justified=sum(a.justified for a in estate.accounts),
        total_unhealthy=sum(len(a.unhealthy) for a in estate.accounts),
        estate_chart=charts.line_chart(series, "Open issues over time, per account"),
        limit=OVERVIEW_LIST_LIMIT,
    )


def render_issues(estate: Estate) -> str:
    rows = sorted(estate.issues, key=lambda issue: -issue.score)
    return _render(
        "issues.html",
        root="",
        current="issues",
        generated_at=estate.generated_at,
        rows=rows,
        accounts=_options([a.name for a in estate.accounts] + [i.account for i in rows]),
        technologies=_options(i.technology for i in rows),
        regions=_options(i.region for i in rows),
    )


def render_changes(estate: Estate) -> str:
    rows: list[Change] = list(estate.changes)
    return _render(
        "changes.html",
        root="",
        current="changes",
        generated_at=estate.generated_at,
        rows=rows,
        accounts=_options([a.name for a in estate.accounts] + [c.account for c in rows]),
        kinds=_options(c.kind for c in rows),
        technologies=_options(c.technology for c in rows),
    )


def render_item(item: ItemView, generated_at: str) -> str:
    root = "../" * item.page.count("/")
    document, links = _document_html(item.document, item.issues)
    revisions: list[tuple[Revision, Markup]] = [(r, _diff_html(r.diff)) for r in item.history]
    return _render(
        "item.html",
        root=root,
        current="item",
        generated_at=generated_at,
        item=item,
        issues=list(zip(item.issues, links, strict=True)),
        document=document,
        revisions=revisions,
    )

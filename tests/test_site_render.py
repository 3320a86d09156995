"""The site's rendering layer (gitmonkey.site.render, charts, templates and assets), without the data
layer: model objects are built here directly.

The last tests open pages from ``file://`` in headless Chromium (``--dump-dom``) to check that the
site's script runs under the pages' Content-Security-Policy and that the filters work; they are
skipped only when /usr/bin/chromium is missing (``make browser`` installs it).
"""

from __future__ import annotations

import html
import itertools
import json
import re
import shutil
import subprocess
import tempfile
from html.parser import HTMLParser
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlsplit

import pytest
from markupsafe import Markup, escape

from gitmonkey.site import charts, render
from gitmonkey.site.model import (
    BANDS,
    AccountSummary,
    Change,
    Estate,
    IssueRow,
    ItemView,
    Revision,
    SliceHealth,
    item_page,
)

CHROMIUM = "/usr/bin/chromium"
HOSTILE = "<script>alert(1)</script>\"'&"
HOSTILE_ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;&#34;&#39;&amp;"
SG_DOCUMENT = {
    "account": "123456789012",
    "arn": "arn:aws:ec2:us-east-1:123456789012:security-group/sg-0a1b2c3d",
    "configuration": {
        "Description": "web servers",
        "GroupId": "sg-0a1b2c3d",
        "GroupName": "web",
        "IpPermissions": [
            {
                "FromPort": 443,
                "IpProtocol": "tcp",
                "IpRanges": [{"CidrIp": "10.0.0.0/8"}],
                "ToPort": 443,
            },
            {
                "FromPort": 22,
                "IpProtocol": "tcp",
                "IpRanges": [{"CidrIp": "10.0.0.0/8"}, {"CidrIp": "0.0.0.0/0", "Description": "anywhere"}],
                "ToPort": 22,
            },
        ],
        "IpPermissionsEgress": [],
        "Tags": {"Name": "web", "aws:cloudformation:stack-name": "frontend"},
        "VpcId": "vpc-1234",
    },
    "id": "sg-0a1b2c3d",
    "name": "web",
    "region": "us-east-1",
    "technology": "ec2.security_group",
}


# --- sample model objects ---------------------------------------------------------------------------


def _page(values: dict) -> str:
    return item_page(values["account"], values["region"], values["technology"], values["item_id"])


def issue(**overrides) -> IssueRow:
    values = {
        "account": "prod",
        "region": "us-east-1",
        "technology": "ec2.security_group",
        "item_id": "sg-0a1b2c3d",
        "item_name": "web",
        "rule": "ec2.security_group.ingress_open_admin_port",
        "title": "Administrative port open to the internet",
        "score": 10,
        "details": "tcp 22 from 0.0.0.0/0",
        "path": "configuration.IpPermissions[1].IpRanges[1]",
        "fingerprint": "f" * 16,
        "first_seen": "2024-04-02T10:00:00+00:00",
        "age_days": 30,
        "justified": False,
    }
    values.update(overrides)
    if "page" not in overrides:
        values["page"] = _page(values)
    return IssueRow(**values)


def change(**overrides) -> Change:
    values = {
        "account": "prod",
        "commit": "0123456789abcdef0123456789abcdef01234567",
        "date": "2024-05-01T12:30:00+02:00",
        "author": "alice <alice@example.com>",
        "subject": "ec2.security_group us-east-1: 1 modified",
        "kind": "modified",
        "region": "us-east-1",
        "technology": "ec2.security_group",
        "item_id": "sg-0a1b2c3d",
        "commit_url": "https://github.com/acme/aws-prod/commit/0123456789abcdef0123456789abcdef01234567",
    }
    values.update(overrides)
    if "page" not in overrides:
        values["page"] = _page(values)
    return Change(**values)


def sample_estate() -> Estate:
    issues = [
        issue(),
        issue(score=7, rule="ec2.security_group.ingress_all_ports", title="All ports open", age_days=3,
              path="configuration.IpPermissions[0]"),
        issue(account="staging", region="eu-west-1", technology="s3.bucket", item_id="logs.example.com",
              item_name="logs.example.com", rule="s3.bucket.no_encryption", title="No default encryption",
              score=4, path="configuration.ServerSideEncryptionConfiguration", age_days=100),
        issue(account="staging", region="global", technology="iam.role", item_id="AdminRole",
              item_name="AdminRole", rule="iam.role.admin", title="Administrator access", score=6,
              justified=True, justification="bob: break-glass role", justification_expires="2024-05-20",
              path="configuration.AttachedManagedPolicies[0]"),
        issue(score=1, rule="ec2.security_group.default", title="Default group in use", age_days=0),
    ]
    changes = [
        change(),
        change(date="2024-04-30T09:00:00+00:00", kind="added", account="staging", region="eu-west-1",
               technology="s3.bucket", item_id="logs.example.com", author="gitmonkey <sync@localhost>",
               commit="fedcba9876543210fedcba9876543210fedcba98", commit_url=""),
        change(date="2024-04-29T08:00:00+00:00", kind="deleted", item_id="sg-gone", page=""),
    ]
    prod = AccountSummary(
        name="prod", id="123456789012", items=120,
        open_by_band={"critical": 1, "high": 1, "medium": 0, "low": 1}, justified=0,
        unjustified_high=[issues[0], issues[1]],
        unhealthy=[SliceHealth("prod", "ap-south-1", "rds.db_instance", "failing",
                               "2024-04-01T00:00:00+00:00",
                               "AccessDenied: not authorized to perform rds:DescribeDBInstances")],
        expiring=[],
        issues_over_time=[("2024-04-28", 5), ("2024-04-29", 4), ("2024-05-01", 3)],
        changes_per_day=[("2024-04-29", 1), ("2024-05-01", 1)],
        last_sync="2024-05-01T12:30:00+00:00",
        remote_url="https://github.com/acme/aws-prod",
    )
    staging = AccountSummary(
        name="staging", id="210987654321", items=40,
        open_by_band={"critical": 0, "high": 0, "medium": 1, "low": 0}, justified=1,
        unjustified_high=[], unhealthy=[], expiring=[issues[3]],
        issues_over_time=[("2024-04-30", 1)], changes_per_day=[("2024-04-30", 1)],
    )
    return Estate(generated_at="2024-05-01 10:30 UTC", accounts=[prod, staging], issues=issues,
                  changes=changes)


def sample_item(**overrides) -> ItemView:
    values = {
        "account": "prod",
        "account_id": "123456789012",
        "region": "us-east-1",
        "technology": "ec2.security_group",
        "item_id": "sg-0a1b2c3d",
        "name": "web",
        "arn": SG_DOCUMENT["arn"],
        "document": json.loads(json.dumps(SG_DOCUMENT)),
        "issues": [
            issue(),
            issue(score=7, rule="ec2.security_group.ingress_all_ports",
                  path="configuration.IpPermissions[0]"),
            issue(score=3, rule="ec2.security_group.no_flow_logs", path="configuration.FlowLogs"),
        ],
        "history": [
            Revision(
                commit="0123456789abcdef0123456789abcdef01234567", date="2024-05-01T12:30:00+00:00",
                author="alice <alice@example.com>", subject="ec2.security_group us-east-1: 1 modified",
                kind="modified",
                diff=("--- a/items/x.json\n+++ b/items/x.json\n@@ -1,3 +1,3 @@\n \"a\": 1,\n"
                      "-\"CidrIp\": \"10.0.0.0/8\"\n+\"CidrIp\": \"0.0.0.0/0\"\n"),
                commit_url="https://github.com/acme/aws-prod/commit/0123456789abcdef0123456789abcdef01234567",
            ),
            Revision(commit="fedcba9876543210fedcba9876543210fedcba98", date="2024-04-01T08:00:00+00:00",
                     author="gitmonkey <sync@localhost>", subject="initial", kind="added", diff=""),
        ],
        "file_url": "https://github.com/acme/aws-prod/blob/main/items/us-east-1/ec2/security_group/sg-0a1b2c3d.json",
    }
    values.update(overrides)
    return ItemView(**values)


def hostile_estate() -> tuple[Estate, ItemView]:
    """Every untrusted string of the model set to ``HOSTILE`` (ids keep a valid page address)."""
    h = HOSTILE
    row = issue(account=h, item_id=h, item_name=h, rule=h, title=h, details=h, path=h, fingerprint=h,
                first_seen=h, justified=True, justification=h, justification_expires=h)
    row2 = issue(account=h, item_id=h, item_name=h, rule=h, title=h, details=h, path=h, justified=False)
    feed = change(account=h, commit=h + "0" * 10, date=h, author=h, subject=h, kind=h, item_id=h,
                  commit_url="javascript:alert(1)")
    summary = AccountSummary(
        name=h, id=h, items=1, open_by_band={"critical": 1, "high": 0, "medium": 0, "low": 0}, justified=1,
        unjustified_high=[row2], unhealthy=[SliceHealth(h, "us-east-1", "ec2.instance", h, h, h)],
        expiring=[row], issues_over_time=[(h, 1), ("2024-01-02", 2)], changes_per_day=[(h, 3)],
        last_sync=h, remote_url="javascript:alert(1)",
    )
    estate = Estate(generated_at=h, accounts=[summary], issues=[row, row2], changes=[feed])
    item = ItemView(
        account=h, account_id=h, region="us-east-1", technology="ec2.security_group", item_id=h, name=h,
        arn=h,
        document={"configuration": {h: [h, {h: h}]}, "name": h},
        issues=[row, row2],
        history=[Revision(commit=h, date=h, author=h, subject=h, kind=h, diff=f"--- {h}\n+{h}\n-{h}\n@@{h}",
                          commit_url="javascript:alert(1)")],
        file_url="javascript:alert(1)",
    )
    return estate, item


def all_pages(estate: Estate, item: ItemView) -> dict[str, str]:
    return {
        "index.html": render.render_overview(estate),
        "issues.html": render.render_issues(estate),
        "changes.html": render.render_changes(estate),
        item.page: render.render_item(item, estate.generated_at),
    }


def write_site(out: Path, estate: Estate, items: list[ItemView]) -> None:
    pages = {
        "index.html": render.render_overview(estate),
        "issues.html": render.render_issues(estate),
        "changes.html": render.render_changes(estate),
    }
    pages.update({item.page: render.render_item(item, estate.generated_at) for item in items})
    for name, text in pages.items():
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        (out / name).write_text(text, encoding="utf-8")
    for name, content in render.ASSETS.items():
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        (out / name).write_bytes(content)


class _Collect(HTMLParser):
    """Start tags with their attributes, and the text of the page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(page: str) -> _Collect:
    parser = _Collect()
    parser.feed(page)
    parser.close()
    return parser


def by_id(page: str, element_id: str) -> tuple[str, dict[str, str | None]]:
    found = [(t, a) for t, a in parse(page).tags if a.get("id") == element_id]
    assert len(found) == 1, f"{element_id}: {len(found)} elements"
    return found[0]


# --- every page -------------------------------------------------------------------------------------


@pytest.mark.parametrize("hostile", [False, True], ids=["sample", "hostile"])
def test_every_page_has_the_frame_csp_and_no_inline_script_or_style(hostile: bool) -> None:
    if hostile:
        estate, item = hostile_estate()
    else:
        estate, item = sample_estate(), sample_item()
    for name, page in all_pages(estate, item).items():
        assert page.startswith("<!doctype html>\n<html lang=\"en\">"), name
        tags = parse(page).tags
        metas = [a for t, a in tags if t == "meta"]
        assert {"charset": "utf-8"} in metas
        assert any(a.get("name") == "viewport" for a in metas)
        csp = [a["content"] for a in metas if a.get("http-equiv") == "Content-Security-Policy"]
        assert csp == [render.CSP], name
        assert render.CSP == (
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            "base-uri 'none'; form-action 'none'"
        )
        # The CSP comes before anything it governs.
        assert page.index("Content-Security-Policy") < page.index("<link rel=\"stylesheet\"")
        scripts = [a for t, a in tags if t == "script"]
        assert len(scripts) == 1 and scripts[0]["src"].endswith("assets/site.js") and "defer" in scripts[0]
        assert page.count("<script") == 1, name
        assert not any(t == "style" for t, _ in tags), name
        for tag, attrs in tags:
            assert "style" not in attrs, (name, tag)
            assert not [k for k in attrs if k.startswith("on")], (name, tag, attrs)
            for key in ("href", "src", "action", "formaction"):
                assert not (attrs.get(key) or "").strip().lower().startswith("javascript:"), (name, tag)
        assert not re.search(r"<[a-z][^>]*\son[a-z]+\s*=", page, re.IGNORECASE), name
        nav_links = [a["href"] for t, a in tags if t == "a" and a.get("href", "").endswith(
            ("index.html", "issues.html", "changes.html"))]
        assert {PurePosixPath(h).name for h in nav_links} >= {"index.html", "issues.html", "changes.html"}
        assert any(t == "nav" for t, _ in tags)
        assert by_id(page, "main")[0] == "main"
        assert '<a class="skip-link" href="#main">' in page
        assert "<footer" in page and (html.escape(estate.generated_at, quote=False) in page
                                      or HOSTILE_ESCAPED in page)
        assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")
        ids = [a["id"] for _, a in tags if a.get("id")]
        assert len(ids) == len(set(ids)), (name, [i for i in ids if ids.count(i) > 1])


def test_no_page_makes_an_external_request() -> None:
    estate, item = sample_estate(), sample_item()
    for name, page in all_pages(estate, item).items():
        for tag, attrs in parse(page).tags:
            if tag in ("script", "img", "iframe", "source", "video", "audio", "embed", "object"):
                assert not urlsplit(attrs.get("src") or "").scheme, (name, tag)
            if tag == "link":
                assert attrs["href"] == "data:," or not urlsplit(attrs["href"]).scheme, (name, attrs)
    for name, content in render.ASSETS.items():
        text = content.decode()
        assert "@import" not in text and "url(" not in text and "fetch(" not in text, name
        assert "XMLHttpRequest" not in text and "http://" not in text and "https://" not in text, name


def test_assets_are_the_package_files() -> None:
    base = Path(render.__file__).parent / "assets"
    assert set(render.ASSETS) == {"assets/site.css", "assets/site.js"}
    assert render.ASSETS["assets/site.css"] == (base / "site.css").read_bytes()
    assert render.ASSETS["assets/site.js"] == (base / "site.js").read_bytes()
    assert b'dataset.js = "on"' in render.ASSETS["assets/site.js"]


@pytest.mark.parametrize("hostile", [False, True], ids=["sample", "hostile"])
def test_headings_are_in_order_and_tables_have_captions_and_column_headers(hostile: bool) -> None:
    estate, item = hostile_estate() if hostile else (sample_estate(), sample_item())
    for name, page in all_pages(estate, item).items():
        tags = parse(page).tags
        levels = [int(t[1]) for t, _ in tags if re.fullmatch(r"h[1-6]", t)]
        assert levels[0] == 1 and levels.count(1) == 1, name
        assert all(b <= a + 1 for a, b in itertools.pairwise(levels)), (name, levels)
        assert page.count("<table") == page.count("<caption>"), name
        for match in re.finditer(r"<thead>.*?</thead>", page, re.DOTALL):
            assert "<td" not in match.group() and 'scope="col"' in match.group()
            assert all('scope="col"' in th for th in re.findall(r"<th(?:\s[^>]*)?>", match.group())), name
        for tag, attrs in tags:
            if tag in ("input", "select"):
                assert f'<label for="{attrs["id"]}">' in page, (name, attrs)


# --- links from item pages --------------------------------------------------------------------------


def test_item_page_links_resolve_to_the_root_pages_and_assets(tmp_path: Path) -> None:
    estate = sample_estate()
    item = sample_item(item_id="odd/id with spaces%", name="odd")
    write_site(tmp_path, estate, [item])
    page_path = tmp_path / item.page
    assert page_path.exists()
    assert item.page.count("/") == 5
    page = page_path.read_text()
    targets = {}
    for tag, attrs in parse(page).tags:
        ref = attrs.get("href") if tag in ("a", "link") else attrs.get("src") if tag == "script" else None
        if not ref or ref.startswith(("#", "https:", "data:")):
            continue
        resolved = (page_path.parent / unquote(ref)).resolve()
        assert resolved.is_relative_to(tmp_path.resolve()), ref
        assert resolved.exists(), ref
        targets[resolved.relative_to(tmp_path.resolve()).as_posix()] = ref
    assert {"index.html", "issues.html", "changes.html", "assets/site.css", "assets/site.js"} <= set(targets)
    assert targets["index.html"] == "../../../../../index.html"


def test_links_to_item_pages_percent_encode_the_escaped_file_names(tmp_path: Path) -> None:
    odd = "bucket with space/%2f"
    estate = sample_estate()
    estate.issues.append(issue(item_id=odd, item_name="odd bucket", technology="s3.bucket", region="global"))
    estate.changes.append(change(item_id=odd, technology="s3.bucket", region="global"))
    item = sample_item(item_id=odd, technology="s3.bucket", region="global", issues=[])
    assert "%" in item.page
    write_site(tmp_path, estate, [item])
    for root_page in ("issues.html", "changes.html"):
        hrefs = [a["href"] for t, a in parse((tmp_path / root_page).read_text()).tags
                 if t == "a" and "items/" in (a.get("href") or "")]
        assert render.page_href(item.page) in hrefs, root_page
        odd_hrefs = [h for h in hrefs if "%25" in h]
        assert odd_hrefs and all((tmp_path / unquote(h)).exists() for h in odd_hrefs), hrefs
    assert render.page_href("items/a%2fb.html", "../") == "../items/a%252fb.html"


# --- escaping ---------------------------------------------------------------------------------------


def test_hostile_strings_are_shown_as_text_on_every_page() -> None:
    estate, item = hostile_estate()
    pages = all_pages(estate, item)
    for name, page in pages.items():
        assert "<script>alert" not in page, name
        assert "javascript:" not in page.lower(), name
        assert HOSTILE_ESCAPED in page, name
        text = "".join(parse(page).text)
        assert HOSTILE in text, name
    item_page_text = pages[item.page]
    # In the JSON document the string is JSON-quoted, then escaped.
    assert str(escape(json.dumps(HOSTILE))) in item_page_text
    # The escaped name keeps the item's page inside the site.
    assert ".." not in item.page and item.page.startswith("items/")


def test_hostile_account_names_in_charts_and_filters_are_escaped() -> None:
    estate, _ = hostile_estate()
    overview = render.render_overview(estate)
    issues_page = render.render_issues(estate)
    assert f'<option value="{HOSTILE_ESCAPED}">{HOSTILE_ESCAPED}</option>' in issues_page
    assert f'data-account="{HOSTILE_ESCAPED}"' in issues_page
    assert "<svg" in overview and HOSTILE_ESCAPED in overview
    # The filter links of the overview carry the name URL-encoded in the fragment.
    assert "issues.html#account=%3Cscript%3Ealert%281%29%3C%2Fscript%3E%22%27%26&amp;" in overview


def test_unsafe_urls_are_not_linked() -> None:
    assert render.web_href("javascript:alert(1)") == ""
    assert render.web_href(" JavaScript:alert(1)") == ""
    assert render.web_href("data:text/html,x") == ""
    assert render.web_href("https://github.com/a/b") == "https://github.com/a/b"
    assert render.web_href("") == ""


def test_lone_surrogates_do_not_break_the_page_encoding() -> None:
    item = sample_item(name="bad\ud800name", document={"id": "x\udc00y", "configuration": {}})
    page = render.render_item(item, "now")
    page.encode("utf-8")
    assert "bad\ufffdname" in page
    assert "x\\udc00y" in page


# --- overview ---------------------------------------------------------------------------------------


def test_overview_shows_every_account_with_bands_issues_slices_and_charts() -> None:
    estate = sample_estate()
    page = render.render_overview(estate)
    assert by_id(page, "account-1")[1]["data-account"] == "prod"
    assert by_id(page, "account-2")[1]["data-account"] == "staging"
    assert by_id(page, "total-items") and ">160<" in page
    prod = page[page.index('id="account-1"'):page.index('id="account-2"')]
    for name, _, _ in BANDS:
        assert f'<span class="band band-{name}">{name}</span>' in prod
    # Unjustified high issues, linked to their item page, highest first.
    assert prod.index("Administrative port open") < prod.index("All ports open")
    assert f'href="{render.page_href(estate.issues[0].page)}"' in prod
    assert "issues.html#account=prod&amp;band=critical&amp;justified=no" in prod
    # Unhealthy slices with their last error; the state in words.
    assert "AccessDenied: not authorized" in prod and ">failing<" in prod
    staging = page[page.index('id="account-2"'):]
    assert "break-glass role" in staging and "2024-05-20" in staging
    assert page.count('role="img"') == 1 + 2 * len(estate.accounts)
    assert "Open issues over time, per account" in page


def test_overview_of_an_empty_estate() -> None:
    page = render.render_overview(Estate(generated_at="no change yet", accounts=[], issues=[], changes=[]))
    assert "No account repository yet" in page and "No data" in page


# --- issues page ------------------------------------------------------------------------------------


def _rows(page: str, table_id: str) -> list[dict[str, str | None]]:
    body = page[page.index(f'id="{table_id}"'):]
    body = body[body.index("<tbody>"):body.index("</tbody>")]
    return [a for t, a in parse(body).tags if t == "tr"]


def test_issues_table_rows_carry_sort_and_filter_attributes_in_score_order() -> None:
    estate = sample_estate()
    page = render.render_issues(estate)
    rows = _rows(page, "issues-table")
    assert [int(r["data-score"]) for r in rows] == [10, 7, 6, 4, 1]
    first = rows[0]
    assert first["data-rule"] == "ec2.security_group.ingress_open_admin_port"
    assert first["data-technology"] == "ec2.security_group"
    assert first["data-account"] == "prod" and first["data-region"] == "us-east-1"
    assert first["data-age"] == "30" and first["data-justified"] == "no" and first["data-band"] == "critical"
    assert first["data-item"] == "web"
    assert [r["data-justified"] for r in rows].count("yes") == 1
    assert 'title="bob: break-glass role (expires 2024-05-20)">yes</span>' in page
    assert by_id(page, "issues-count")[1]["aria-live"] == "polite"
    assert "5 of 5 issues" in page
    assert "data-table" in by_id(page, "issues-table")[1]


def test_issues_table_headers_sort_with_buttons_and_aria_sort() -> None:
    page = render.render_issues(sample_estate())
    head = page[page.index("<thead>"):page.index("</thead>")]
    headers = [a for t, a in parse(head).tags if t == "th"]
    sortable = {a["data-sort-key"]: a for a in headers if a.get("data-sort-key")}
    assert set(sortable) == {"score", "rule", "title", "technology", "account", "region", "item", "age",
                             "justified"}
    assert sortable["score"]["aria-sort"] == "descending"
    assert all(a["aria-sort"] == "none" for k, a in sortable.items() if k != "score")
    assert sortable["score"]["data-sort-type"] == sortable["age"]["data-sort-type"] == "number"
    buttons = [a for t, a in parse(head).tags if t == "button"]
    assert {b["data-sort"] for b in buttons} == set(sortable)
    assert all(b["type"] == "button" for b in buttons)
    labels = [re.sub(r"<[^>]+>", "", h) for h in re.findall(r"<th.*?</th>", head)]
    assert labels == ["Score", "Band", "Rule", "Title", "Technology", "Account", "Region", "Item",
                      "Age (days)", "Justified", "Details"]


def _options(page: str, select_id: str) -> list[str]:
    block = page[page.index(f'<select id="{select_id}"'):]
    block = block[:block.index("</select>")]
    return [a["value"] for t, a in parse(block).tags if t == "option"]


def test_issue_filter_options_come_from_the_data() -> None:
    page = render.render_issues(sample_estate())
    assert _options(page, "filter-band") == ["", "critical", "high", "medium", "low"]
    assert _options(page, "filter-account") == ["", "prod", "staging"]
    assert _options(page, "filter-technology") == ["", "ec2.security_group", "iam.role", "s3.bucket"]
    assert _options(page, "filter-region") == ["", "eu-west-1", "global", "us-east-1"]
    assert _options(page, "filter-justified") == ["", "yes", "no"]
    assert by_id(page, "filter-text")[1]["type"] == "search"
    assert by_id(page, "filter-text")[1]["data-filter"] == "text"
    for select in ("band", "account", "technology", "region", "justified"):
        assert by_id(page, f"filter-{select}")[1]["data-filter"] == select


def test_issues_page_without_issues() -> None:
    page = render.render_issues(Estate(generated_at="x", accounts=[], issues=[], changes=[]))
    assert "0 of 0 issues" in page and _rows(page, "issues-table") == []


# --- changes page -----------------------------------------------------------------------------------


def test_changes_table_newest_first_with_links_and_filters() -> None:
    estate = sample_estate()
    page = render.render_changes(estate)
    rows = _rows(page, "changes-table")
    assert [r["data-date"] for r in rows] == ["2024-05-01T10:30:00Z", "2024-04-30T09:00:00Z",
                                              "2024-04-29T08:00:00Z"]
    assert [r["data-kind"] for r in rows] == ["modified", "added", "deleted"]
    assert rows[0]["data-author"] == "alice <alice@example.com>"
    assert '<a href="https://github.com/acme/aws-prod/commit/0123456789abcdef0123456789abcdef01234567">' \
           "<code>0123456789</code></a>" in page
    assert "<code>fedcba9876</code>" in page  # no remote: no link
    assert f'href="{render.page_href(estate.changes[0].page)}"' in page
    assert '<span class="gone" title="not in the current tree">sg-gone</span>' in page
    assert "2024-05-01 10:30" in page  # shown in UTC
    assert _options(page, "filter-account") == ["", "prod", "staging"]
    assert _options(page, "filter-kind") == ["", "added", "deleted", "modified"]
    assert _options(page, "filter-technology") == ["", "ec2.security_group", "s3.bucket"]
    assert by_id(page, "changes-count")[1]["aria-live"] == "polite" and "3 of 3 changes" in page
    head = page[page.index("<thead>"):page.index("</thead>")]
    assert 'aria-sort="descending" data-sort-key="date"' in head


# --- item page --------------------------------------------------------------------------------------


def test_item_page_header_issues_document_and_history() -> None:
    item = sample_item()
    page = render.render_item(item, "2024-05-01 10:30 UTC")
    assert by_id(page, "item-name")[0] == "h1"
    for element_id, text in (("item-id", "sg-0a1b2c3d"), ("item-technology", "ec2.security_group"),
                             ("item-region", "us-east-1"), ("item-account", "prod (123456789012)")):
        assert f'id="{element_id}">{text}<' in page
    assert SG_DOCUMENT["arn"] in page
    assert by_id(page, "item-file")[1]["href"] == item.file_url
    assert "deleted</span>" not in page
    lines = render.document_lines(item.document)
    # One span per line, numbered from 1, with its path.
    spans = [a for t, a in parse(page).tags if t == "span" and "line" in (a.get("class") or "").split()]
    assert [s["id"] for s in spans] == [f"L{n}" for n in range(1, len(lines) + 1)]
    assert [s["data-path"] for s in spans] == [p for p, _ in lines]
    assert by_id(page, "document")[0] == "pre"
    assert ('<pre id="document" class="document" tabindex="0" role="region" '
            'aria-labelledby="document-heading"><code>') in page
    # Issue 1 (IpRanges[1] of the second permission) highlights that object's lines only.
    hl = [s for s in spans if "hl" in s["class"].split()]
    issue1 = [s for s in hl if "1" in s["data-issues"].split()]
    assert {s["data-path"] for s in issue1} == {
        "configuration.IpPermissions[1].IpRanges[1]",
        "configuration.IpPermissions[1].IpRanges[1].CidrIp",
        "configuration.IpPermissions[1].IpRanges[1].Description",
    }
    first = issue1[0]["id"]
    assert '<tr id="issue-1"' in page and f'href="#{first}"' in page
    assert '<a class="issue-ref" href="#issue-1" aria-label="issue 1">issue 1</a>' in page
    issue2 = [s for s in hl if "2" in s["data-issues"].split()]
    assert all(s["data-path"].startswith("configuration.IpPermissions[0]") for s in issue2)
    assert len(issue2) == 10  # {, FromPort, IpProtocol, IpRanges: [, {, CidrIp, }, ], ToPort, }
    # Issue 3's path is missing from the document: nothing highlighted, a link to the nearest part.
    assert not [s for s in hl if "3" in s["data-issues"].split()]
    assert "not in the recorded document" in page and "nearest: <code>configuration</code>" in page
    assert 'href="#L4"' in page  # issue 3 links to the line of "configuration"
    # History, newest first, diff lines classed and escaped.
    history = page[page.index('<section id="history"'):]
    assert history.index("0123456789") < history.index("fedcba9876")
    assert '<span class="add">+&#34;CidrIp&#34;: &#34;0.0.0.0/0&#34;</span>' in history
    assert '<span class="del">-&#34;CidrIp&#34;: &#34;10.0.0.0/8&#34;</span>' in history
    assert '<span class="hunk">@@ -1,3 +1,3 @@</span>' in history
    assert '<span class="meta">--- a/items/x.json</span>' in history
    assert "<details>\n<summary>Diff</summary>" in history
    assert "First recorded version" in history
    assert "alice &lt;alice@example.com&gt;" in history


def test_deleted_item_has_a_badge() -> None:
    page = render.render_item(sample_item(deleted=True, file_url="", issues=[], history=[]), "x")
    assert '<span class="badge deleted">deleted</span>' in page
    assert "No open issue." in page and "No recorded revision." in page and 'id="item-file"' not in page


# --- document_lines ---------------------------------------------------------------------------------


def test_document_lines_text_is_the_sorted_pretty_json() -> None:
    for document in (SG_DOCUMENT, {}, [], {"a": []}, {"a": {}}, {"z": 1, "a": [[], [[1]], {}], "é": "ü ☃ \n"},
                     [1, "two", None, True, 1.5, {"k": [{}]}]):
        lines = render.document_lines(document)
        assert "\n".join(text for _, text in lines) == json.dumps(
            document, indent=2, sort_keys=True, ensure_ascii=False
        )


def test_document_lines_paths() -> None:
    document = {
        "account": "1",
        "configuration": {
            "IpPermissions": [{"IpRanges": [{"CidrIp": "a"}, {"CidrIp": "b"}]}],
            "Empty": {},
            "None": [],
            "Nested": [[1, [2]]],
            "odd key": {"a.b": 1, "0start": 2, "ünï": 3, 'q"uote': 4},
        },
    }
    lines = render.document_lines(document)
    assert lines == [
        ("", "{"),
        ("account", '  "account": "1",'),
        ("configuration", '  "configuration": {'),
        ("configuration.Empty", '    "Empty": {},'),
        ("configuration.IpPermissions", '    "IpPermissions": ['),
        ("configuration.IpPermissions[0]", "      {"),
        ("configuration.IpPermissions[0].IpRanges", '        "IpRanges": ['),
        ("configuration.IpPermissions[0].IpRanges[0]", "          {"),
        ("configuration.IpPermissions[0].IpRanges[0].CidrIp", '            "CidrIp": "a"'),
        ("configuration.IpPermissions[0].IpRanges[0]", "          },"),
        ("configuration.IpPermissions[0].IpRanges[1]", "          {"),
        ("configuration.IpPermissions[0].IpRanges[1].CidrIp", '            "CidrIp": "b"'),
        ("configuration.IpPermissions[0].IpRanges[1]", "          }"),
        ("configuration.IpPermissions[0].IpRanges", "        ]"),
        ("configuration.IpPermissions[0]", "      }"),
        ("configuration.IpPermissions", "    ],"),
        ("configuration.Nested", '    "Nested": ['),
        ("configuration.Nested[0]", "      ["),
        ("configuration.Nested[0][0]", "        1,"),
        ("configuration.Nested[0][1]", "        ["),
        ("configuration.Nested[0][1][0]", "          2"),
        ("configuration.Nested[0][1]", "        ]"),
        ("configuration.Nested[0]", "      ]"),
        ("configuration.Nested", "    ],"),
        ("configuration.None", '    "None": [],'),
        ('configuration.("odd key")', '    "odd key": {'),
        ('configuration.("odd key").("0start")', '      "0start": 2,'),
        ('configuration.("odd key").("a.b")', '      "a.b": 1,'),
        ('configuration.("odd key").("q\\"uote")', '      "q\\"uote": 4,'),
        ('configuration.("odd key").("ünï")', '      "ünï": 3'),
        ('configuration.("odd key")', "    }"),
        ("configuration", "  }"),
        ("", "}"),
    ]


def test_document_line_paths_match_the_audit_join_form() -> None:
    """The paths are those the audit writes in issues (``_join`` of gitmonkey.audit.filters.base)."""
    from gitmonkey.audit.filters.base import _join

    assert render.format_path(["configuration", "IpPermissions", 0, "IpRanges", 1]) == _join(
        _join("configuration", "IpPermissions") + "[0]", "IpRanges") + "[1]"
    # A rule key that is a JMESPath quoted identifier gives the same path as the document line.
    assert render.format_path(["configuration", "odd key"]) == _join("configuration", '"odd key"')
    assert render.format_path(["configuration", "aws:x"]) == _join("configuration", '"aws:x"')


def test_parse_path_reads_issue_paths() -> None:
    parse_path = render.parse_path
    assert parse_path("configuration.IpPermissions[0].IpRanges[1]") == (
        ["configuration", "IpPermissions", 0, "IpRanges", 1], True)
    assert parse_path("configuration") == (["configuration"], True)
    assert parse_path('configuration.("odd key")[2]') == (["configuration", "odd key", 2], True)
    assert parse_path('configuration.(Tags."aws:x")') == (["configuration", "Tags", "aws:x"], True)
    assert parse_path("configuration.Policy.Statement[0]") == (
        ["configuration", "Policy", "Statement", 0], True)
    assert parse_path('configuration.("a)b")') == (["configuration", "a)b"], True)
    assert parse_path("configuration.(length(Trails[?x]))") == (["configuration"], False)
    assert parse_path("configuration.([A, B])[0]") == (["configuration"], False)
    assert parse_path("previous.configuration.X") == (["previous", "configuration", "X"], True)
    assert parse_path("") == ([], True)
    assert parse_path(HOSTILE) == ([], False)
    for path, _ in render.document_lines(SG_DOCUMENT | {"configuration": {"odd key": [{"ü x": [1]}]}}):
        segments, complete = parse_path(path)
        assert complete and render.format_path(segments) == path


def test_highlight_odd_keys_and_unresolved_paths() -> None:
    document = {"configuration": {"odd key": [{"x": 1}], "Tags": {"aws:x": "y"}, "B": 1}}
    item = sample_item(document=document, issues=[
        issue(path='configuration.("odd key")[0]'),
        issue(path='configuration.(Tags."aws:x")'),
        issue(path="configuration.(length(@))"),
        issue(path=""),
    ])
    page = render.render_item(item, "x")
    spans = [a for t, a in parse(page).tags if t == "span" and "line" in (a.get("class") or "")]
    marked = {s["data-path"]: s.get("data-issues") for s in spans}
    assert marked['configuration.("odd key")[0]'] == "1"
    assert marked['configuration.("odd key")[0].x'] == "1"
    assert marked['configuration.Tags.("aws:x")'] == "2"
    assert marked["configuration.B"] is None
    # Unresolved paths link to the nearest existing part, without highlighting.
    assert page.count('class="line hl"') == 4


# --- charts -----------------------------------------------------------------------------------------


def _svg_ok(svg: Markup) -> _Collect:
    assert isinstance(svg, Markup)
    tags = parse(str(svg)).tags
    assert tags[0][0] == "svg" and tags[0][1]["role"] == "img"
    title_id, desc_id = tags[0][1]["aria-labelledby"].split()
    assert (("title", {"id": title_id}) in tags) and (("desc", {"id": desc_id}) in tags)
    assert "style=" not in str(svg) and "<script" not in str(svg)
    return parse(str(svg))


def test_line_chart_many_points_and_series() -> None:
    svg = charts.line_chart(
        {"prod": [("2024-01-01", 3), ("2024-01-02", 5), ("2024-01-05", 2)], "staging": [("2024-01-03", 12)]},
        "Open issues",
    )
    parsed = _svg_ok(svg)
    text = "".join(parsed.text)
    assert "Open issues" in text
    assert "2 series from 2024-01-01 to 2024-01-05." in text
    assert "prod: 2 open issues on 2024-01-05 (lowest 2, highest 5)." in text
    assert "staging: 12 open issues on 2024-01-03" in text
    assert "2024-01-01" in text and "2024-01-05" in text  # x axis labels
    assert ">0</text>" in str(svg) and ">20</text>" in str(svg)  # y axis from 0 to a round maximum
    assert str(svg).count("<path class=\"series") == 1  # staging has one point: a marker only
    assert 'class="series series-1 markers"' in str(svg)
    assert [t for t, a in parsed.tags if t == "text" and a.get("class") == "legend-label"] == ["text", "text"]


def test_line_chart_x_scale_follows_dates() -> None:
    svg = str(charts.line_chart({"a": [("2024-01-01", 1), ("2024-01-02", 1), ("2024-01-11", 1)]}, "t",
                                width=640))
    xs = [float(x) for x in re.findall(r'<circle cx="([0-9.]+)"', svg)]
    assert xs[1] - xs[0] == pytest.approx((xs[2] - xs[0]) / 10, abs=0.2)


def test_charts_empty_and_one_point() -> None:
    for svg in (charts.line_chart({}, "Nothing"), charts.line_chart({"a": []}, "Nothing"),
                charts.bar_chart([], "Nothing")):
        parsed = _svg_ok(svg)
        assert "No data" in "".join(parsed.text)
    one = charts.line_chart({"a": [("2024-01-01", 0)]}, "One")
    assert "<circle" in str(one) and "1 series on 2024-01-01." in str(one)
    bar = charts.bar_chart([("2024-01-01", 4)], "One bar")
    _svg_ok(bar)
    assert str(bar).count("<rect") == 1 and "4 changes on 1 days on 2024-01-01" in str(bar)


def test_bar_chart_many_points() -> None:
    points = [(f"2024-02-{d:02d}", d % 7) for d in range(1, 29)]
    svg = charts.bar_chart(points, "Changes per day")
    _svg_ok(svg)
    assert str(svg).count("<rect") == 28
    assert "busiest day 2024-02-27 with 6" in str(svg)
    assert "<title>2024-02-03: 3 changes</title>" in str(svg)


def test_chart_labels_are_escaped() -> None:
    svg = str(charts.line_chart({HOSTILE: [("2024-01-01", 1), ("2024-01-02", 2)]}, HOSTILE))
    assert "<script>" not in svg and HOSTILE_ESCAPED in svg
    assert html.unescape(re.search(r"<title id=[^>]*>(.*?)</title>", svg).group(1)) == HOSTILE
    bar = str(charts.bar_chart([(HOSTILE, 1)], HOSTILE))
    assert "<script>" not in bar and HOSTILE_ESCAPED in bar


def test_chart_ids_are_stable_and_distinct() -> None:
    a = str(charts.line_chart({"a": [("2024-01-01", 1)]}, "t"))
    assert a == str(charts.line_chart({"a": [("2024-01-01", 1)]}, "t"))
    b = str(charts.line_chart({"b": [("2024-01-01", 1)]}, "t"))
    ids = [re.search(r'id="(chart-[^"]+)-title"', svg).group(1) for svg in (a, b)]
    assert ids[0] != ids[1]


def test_many_series_wrap_the_legend() -> None:
    series = {f"account-{n}": [("2024-01-01", n), ("2024-01-02", n + 1)] for n in range(10)}
    svg = str(charts.line_chart(series, "Many", width=640, height=200))
    height = int(re.search(r'viewBox="0 0 640 (\d+)"', svg).group(1))
    assert height > 200
    assert "series-9" not in svg and "series series-1" in svg  # styles repeat after eight


# --- in Chromium, from file:// ----------------------------------------------------------------------


def _dump_dom(url: str) -> str:
    with tempfile.TemporaryDirectory() as profile:
        result = subprocess.run(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--disable-extensions", f"--user-data-dir={profile}", "--dump-dom", url],
            capture_output=True, text=True, timeout=120, check=False,
        )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


needs_chromium = pytest.mark.skipif(not Path(CHROMIUM).exists() or not shutil.which(CHROMIUM),
                                    reason="chromium is not installed (make browser)")


@needs_chromium
def test_site_script_runs_under_the_csp_from_file_urls(tmp_path: Path) -> None:
    """'self' in script-src matches the site's own script when the pages are opened from file://."""
    estate, hostile_item = hostile_estate()
    estate = sample_estate()
    estate.issues.append(hostile_estate()[0].issues[1])
    item = sample_item()
    write_site(tmp_path, estate, [item, hostile_item])

    dom = _dump_dom((tmp_path / "issues.html").as_uri() + "#band=critical&justified=no")
    assert re.search(r'<html lang="en" data-js="on">', dom), "site.js did not run"
    filters = re.search(r'<div[^>]*data-filters-for="issues-table"[^>]*>', dom).group()
    assert "hidden" not in filters  # the script showed the filter controls
    # The filters were read from the fragment: critical and unjustified = prod's 10 and the hostile one.
    assert re.search(r'<p id="issues-count"[^>]*>2 of 6 issues</p>', dom)
    rows = re.findall(r"<tr data-score[^>]*>", dom)
    assert len(rows) == 6 and [r for r in rows if "hidden" not in r] == rows[:2]
    assert all('data-band="critical"' in r and 'data-justified="no"' in r for r in rows[:2])
    assert dom.count("<script") == 1 and "<script>alert" not in dom

    # From an item page five directories down, with a percent-escaped file name.
    dom = _dump_dom((tmp_path / hostile_item.page).as_uri())
    assert 'data-js="on"' in dom and dom.count("<script") == 1 and "<script>alert" not in dom
    assert HOSTILE_ESCAPED.replace("&#34;", '"').replace("&#39;", "'") in dom


@needs_chromium
def test_inline_script_is_blocked_by_the_csp_from_file_urls(tmp_path: Path) -> None:
    """The control experiment: an inline script in a page with the site's CSP does not run."""
    write_site(tmp_path, sample_estate(), [])
    page = (tmp_path / "index.html").read_text()
    page = page.replace("</main>", '<p id="probe">inline script blocked</p>'
                        '<script>document.getElementById("probe").textContent = "inline ran"</script></main>')
    (tmp_path / "index.html").write_text(page)
    dom = _dump_dom((tmp_path / "index.html").as_uri())
    assert 'data-js="on"' in dom
    assert '<p id="probe">inline script blocked</p>' in dom

"""The static site in a real headless browser: Debian's Chromium driven by Selenium through
Debian's ChromeDriver (both installed by ``make test``), pages opened from file://.

It checks that the site's script runs under its Content-Security-Policy, that tables sort and
filter, that every link resolves to a file of the site, that a hostile item name is shown as text
and runs nothing, and saves screenshots of the overview and an item page as test artifacts
(``$GITMONKEY_TEST_ARTIFACTS``, default ``test-artifacts/``).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote, urlsplit

import boto3
import pytest
from moto import mock_aws

from gitmonkey.site.build import build_site
from gitmonkey.site.model import item_page
from tests.helpers import SyncedAccount
from tests.test_site_build import HOSTILE, hostile_commit

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
ARTIFACTS = Path(
    os.environ.get("GITMONKEY_TEST_ARTIFACTS", Path(__file__).resolve().parent.parent / "test-artifacts")
)
REGION = "us-east-1"

pytestmark = pytest.mark.skipif(
    not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()),
    reason="Chromium and ChromeDriver are not installed: run `make test` (it installs Debian's packages)",
)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, str]]]:
    """A site of one account: open and closed security groups, buckets, an instance, a hostile item."""
    tmp = tmp_path_factory.mktemp("site-estate")
    with mock_aws():
        world = SyncedAccount(
            tmp,
            [
                "ec2.security_group.ingress-internet",
                "ec2.security_group.admin-port-internet-ipv4",
                "s3.bucket.versioning-disabled",
                "s3.bucket.policy-internet",
            ],
            ["ec2.security_group", "s3.bucket"],
        )
        ec2 = boto3.client("ec2", region_name=REGION)
        vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        groups = {
            name: ec2.create_security_group(GroupName=name, Description=name, VpcId=vpc)["GroupId"]
            for name in ("web", "db", "admin")
        }
        s3 = boto3.client("s3", region_name=REGION)
        for bucket in ("alpha-data", "beta-logs", "gamma-site"):
            s3.create_bucket(Bucket=bucket)
        world.sync()
        for name, port in (("web", 22), ("admin", 3389)):
            ec2.authorize_security_group_ingress(
                GroupId=groups[name],
                IpPermissions=[
                    {
                        "IpProtocol": "tcp",
                        "FromPort": port,
                        "ToPort": port,
                        "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
                    }
                ],
            )
        world.sync()
        hostile_commit(world)
    out = tmp / "site"
    build_site(world.config, out)
    yield out, groups


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="gm-chromium-")
    options = Options()
    options.binary_location = CHROMIUM
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-quic",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        f"--user-data-dir={profile}",
        "--window-size=1280,1000",
    ):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def open_page(driver, path: Path) -> None:
    """Load ``path`` and wait (polling, up to 10 s) until the site's deferred script has run."""
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(path.as_uri())
    try:
        WebDriverWait(driver, 10).until(
            lambda d: d.execute_script("return document.documentElement.dataset.js") == "on"
        )
    except TimeoutException:
        raise AssertionError(
            f"the site's script did not run on {path.name} (blocked by the "
            f"Content-Security-Policy?); browser log: {driver.get_log('browser')}"
        ) from None


def severe(driver) -> list[str]:
    return [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]


def rows(driver, table: str) -> list:
    from selenium.webdriver.common.by import By

    return [r for r in driver.find_elements(By.CSS_SELECTOR, f"#{table} tbody tr") if r.is_displayed()]


def test_the_overview_runs_its_script_under_its_policy_and_is_saved(site, browser) -> None:
    out, _ = site
    open_page(browser, out / "index.html")
    assert "gitmonkey" in browser.title.lower()
    assert severe(browser) == []
    from selenium.webdriver.common.by import By

    charts = browser.find_elements(By.CSS_SELECTOR, "svg[role=img]")
    assert charts and all(c.find_elements(By.TAG_NAME, "title") for c in charts)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    assert browser.save_screenshot(str(ARTIFACTS / "site-overview.png"))


def test_the_issues_table_sorts_by_score_both_ways(site, browser) -> None:
    from selenium.webdriver.common.by import By

    out, _ = site
    open_page(browser, out / "issues.html")
    scores = [int(r.get_attribute("data-score")) for r in rows(browser, "issues-table")]
    assert len(scores) >= 4 and scores == sorted(scores, reverse=True)
    header = browser.find_element(By.CSS_SELECTOR, "#issues-table th[data-sort-key=score]")
    button = header.find_element(By.CSS_SELECTOR, "button[data-sort]")
    button.click()
    ascending = [int(r.get_attribute("data-score")) for r in rows(browser, "issues-table")]
    assert ascending == sorted(scores) and header.get_attribute("aria-sort") == "ascending"
    button.click()
    assert [int(r.get_attribute("data-score")) for r in rows(browser, "issues-table")] == sorted(
        scores, reverse=True
    )
    assert header.get_attribute("aria-sort") == "descending"
    # by rule, a text column
    browser.find_element(By.CSS_SELECTOR, "#issues-table th[data-sort-key=rule] button").click()
    names = [r.get_attribute("data-rule") for r in rows(browser, "issues-table")]
    assert names == sorted(names)


def test_the_issues_table_filters_and_says_how_many(site, browser) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    out, _ = site
    open_page(browser, out / "issues.html")
    total = len(rows(browser, "issues-table"))
    text = browser.find_element(By.ID, "filter-text")
    text.send_keys("3389")
    shown = rows(browser, "issues-table")
    assert shown and len(shown) < total
    assert all("3389" in r.text for r in shown)
    assert {r.get_attribute("data-item") for r in shown} == {"admin"}
    assert browser.find_element(By.ID, "issues-count").text == f"{len(shown)} of {total} issues"
    browser.find_element(By.CSS_SELECTOR, "button[data-reset]").click()
    assert len(rows(browser, "issues-table")) == total
    Select(browser.find_element(By.ID, "filter-technology")).select_by_value("s3.bucket")
    shown = rows(browser, "issues-table")
    assert len(shown) == 3 and {r.get_attribute("data-technology") for r in shown} == {"s3.bucket"}
    # The filter is kept in the address, so a link or a reload shows the same rows.
    assert "technology=s3.bucket" in browser.current_url


def test_every_link_of_the_site_resolves_to_one_of_its_files(site, browser) -> None:
    from selenium.webdriver.common.by import By

    out, groups = site
    pages = [
        out / "index.html",
        out / "issues.html",
        out / "changes.html",
        out / item_page("prod", REGION, "ec2.security_group", groups["web"]),
    ]
    checked = 0
    for page in pages:
        open_page(browser, page)
        for link in browser.find_elements(By.CSS_SELECTOR, "a[href]"):
            href = link.get_attribute("href")
            parts = urlsplit(href)
            assert parts.scheme == "file", f"{page.name}: a link leaves the site: {href}"
            target = Path(unquote(parts.path))
            assert target.is_file(), f"{page.name}: {link.text!r} -> {href} does not exist"
            assert target.resolve().is_relative_to(out.resolve())
            if parts.fragment and target.resolve() == page.resolve():
                assert browser.find_elements(By.ID, parts.fragment), f"{page.name}: no #{parts.fragment}"
            checked += 1
    assert checked > 20


def test_a_hostile_item_name_is_text_and_runs_nothing(site, browser) -> None:
    from selenium.common.exceptions import NoAlertPresentException
    from selenium.webdriver.common.by import By

    out, _ = site
    page = out / item_page("prod", REGION, "ec2.key_pair", HOSTILE)
    open_page(browser, page)
    with pytest.raises(NoAlertPresentException):
        browser.switch_to.alert.text  # noqa: B018 (an alert would mean the name ran as script)
    assert browser.find_element(By.ID, "item-name").text == HOSTILE
    assert browser.execute_script("return document.querySelectorAll('script:not([src])').length") == 0
    open_page(browser, out / "changes.html")
    assert HOSTILE in browser.find_element(By.ID, "changes-table").text
    with pytest.raises(NoAlertPresentException):
        browser.switch_to.alert.text  # noqa: B018


def test_an_item_page_highlights_its_issue_and_shows_its_history(site, browser) -> None:
    from selenium.webdriver.common.by import By

    out, groups = site
    open_page(browser, out / item_page("prod", REGION, "ec2.security_group", groups["web"]))
    highlighted = browser.find_elements(By.CSS_SELECTOR, "#document .hl")
    assert highlighted and any("0.0.0.0/0" in line.text for line in highlighted)
    history = browser.find_element(By.ID, "history")
    assert "modified" in history.text.lower() or "added" in history.text.lower()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    assert browser.save_screenshot(str(ARTIFACTS / "site-item.png"))
    assert severe(browser) == []

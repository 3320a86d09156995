"""The framework catalogues shipped in gitmonkey/compliance/ and the rules' ``compliance:`` ids."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from gitmonkey.audit.rule_model import Rule
from gitmonkey.audit.rules import RuleSet
from gitmonkey.compliance import catalogue as cat
from gitmonkey.compliance import known_frameworks, load_catalogue, unknown_controls

BUILTIN = RuleSet.load({}, base_dir=Path.cwd())


def test_the_two_frameworks_are_shipped_and_valid() -> None:
    assert known_frameworks() == ("cis-aws-3.0", "fsbp")
    for framework in known_frameworks():
        catalogue = load_catalogue(framework)
        assert catalogue.framework == framework and catalogue.controls
        assert len(catalogue.by_id) == len(catalogue.controls)


def test_cis_v3_has_every_recommendation_of_sections_1_to_5() -> None:
    cis = load_catalogue("cis-aws-3.0")
    assert cis.version == "3.0.0"
    per_section: dict[str, int] = {}
    for control in cis.controls:
        per_section[control.id.split(".")[0]] = per_section.get(control.id.split(".")[0], 0) + 1
        assert control.assessment in ("automated", "manual") and control.level in (1, 2)
    # The benchmark's 62 recommendations: 22 IAM, 9 storage, 9 logging, 16 monitoring, 6 networking.
    assert per_section == {"1": 22, "2": 9, "3": 9, "4": 16, "5": 6}
    assert cis.by_id["1.4"].title == "Ensure no 'root' user account access key exists"
    assert cis.by_id["1.1"].manual and not cis.by_id["1.4"].manual
    assert cis.by_id["5.2"].title.startswith("Ensure no security groups allow ingress from 0.0.0.0/0")


def test_fsbp_names_controls_as_security_hub_does() -> None:
    fsbp = load_catalogue("fsbp")
    assert fsbp.by_id["IAM.4"].severity == "critical"
    assert fsbp.by_id["S3.1"].severity == "medium"
    assert fsbp.by_id["GuardDuty.1"].severity == "high"
    assert fsbp.by_id["EC2.22"].retired
    services = {c.service for c in fsbp.controls}
    assert {"Account", "ACM", "CloudTrail", "Config", "EC2", "ECR", "ELB", "ES", "GuardDuty", "IAM", "KMS",
            "Lambda", "Opensearch", "RDS", "Redshift", "Route53", "S3", "SecretsManager", "SNS",
            "SQS"} <= services
    assert all(c.id.split(".")[0] == c.service for c in fsbp.controls)


def test_every_compliance_id_of_every_builtin_rule_is_in_its_catalogue() -> None:
    assert unknown_controls(BUILTIN.rules) == []
    declared = [r for r in BUILTIN.rules if r.compliance]
    assert any(r.source.startswith("python:") for r in declared), "Python rules declare controls too"
    assert any(not r.source.startswith("python:") for r in declared)
    for rule in declared:
        assert set(rule.compliance) <= set(known_frameworks()), rule.id


def test_unknown_frameworks_and_ids_are_reported() -> None:
    def noop(*_: object) -> list[object]:
        return []

    rules = [
        Rule(id="x.one", technology="x", score=1, title="t", description="d", remediation="r", check=noop,
             source="test", compliance={"cis-aws-9.9": ("1.1",)}),
        Rule(id="x.two", technology="x", score=1, title="t", description="d", remediation="r", check=noop,
             source="test", compliance={"fsbp": ("IAM.4", "IAM.999"), "cis-aws-3.0": ("1.4",)}),
    ]
    assert unknown_controls(rules) == [
        "rule x.one: unknown framework 'cis-aws-9.9'",
        "rule x.two: fsbp has no control 'IAM.999'",
    ]


def test_a_malformed_catalogue_is_refused_when_loaded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    good = yaml.safe_load((cat.CATALOGUE_DIR / "fsbp.yaml").read_text())
    (tmp_path / "fsbp.yaml").write_text(yaml.safe_dump({**good, "controls": [{"id": "IAM.4"}]}))
    (tmp_path / "cis-aws-3.0.yaml").write_text(yaml.safe_dump({**good, "framework": "fsbp"}))
    monkeypatch.setattr(cat, "CATALOGUE_DIR", tmp_path)
    cat.load_catalogue.cache_clear()
    try:
        with pytest.raises(cat.CatalogueError, match=r"fsbp\.yaml: controls/0: 'title' is a required"):
            cat.load_catalogue("fsbp")
        with pytest.raises(cat.CatalogueError, match=r"expected 'cis-aws-3\.0'"):
            cat.load_catalogue("cis-aws-3.0")
        with pytest.raises(cat.CatalogueError, match="unknown framework 'pci'"):
            cat.load_catalogue("pci")
    finally:
        cat.load_catalogue.cache_clear()


def test_catalogues_are_package_data() -> None:
    """The wheel packs gitmonkey/ whole (pyproject: packages = ["gitmonkey"]), so the catalogues and
    their schema, inside the package, ship with it; they are found relative to the module."""
    import gitmonkey

    package = Path(gitmonkey.__file__).parent / "compliance"
    assert package == cat.CATALOGUE_DIR
    assert {p.name for p in package.iterdir()} >= {"cis-aws-3.0.yaml", "fsbp.yaml", "catalogue.schema.json"}

"""ACM certificate watcher against moto (and a botocore Stubber where moto cannot say it): fields,
every status and key type listed, races, failures, call counts, paging and the expiry rules."""

from __future__ import annotations

import datetime
import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from moto import mock_aws

from gitmonkey.audit import AuditContext, RuleSet
from gitmonkey.normalize import normalize_item
from gitmonkey.read.aws import SliceContext
from gitmonkey.watchers import acm
from tests.helpers import slice_context

ACCOUNT = "123456789012"
REGION = "us-east-1"
TECH = acm.TECHNOLOGIES[0]


def make_ctx(region: str = REGION) -> SliceContext:
    return slice_context(region)


@functools.cache
def _rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def self_signed(domain: str, days: int, key=None) -> tuple[bytes, bytes]:
    """A certificate for ``domain`` and ``www.<domain>`` valid from yesterday for ``days`` days."""
    key = key or _rsa_key()
    now = datetime.datetime.now(datetime.UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, domain)])
    san = x509.SubjectAlternativeName([x509.DNSName(f"www.{domain}"), x509.DNSName(domain)])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(4242)
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(san, critical=False)
        .sign(key, hashes.SHA256())
    )
    pem_key = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return cert.public_bytes(serialization.Encoding.PEM), pem_key


@pytest.fixture
def aws():
    with mock_aws():
        yield boto3.client("acm", region_name=REGION)


def _import(client, domain: str, days: int, key=None, tags=None) -> str:
    body, private = self_signed(domain, days, key)
    extra = {"Tags": tags} if tags else {}
    return client.import_certificate(Certificate=body, PrivateKey=private, **extra)["CertificateArn"]


def test_imported_certificate_has_every_field(aws):
    arn = _import(aws, "example.com", 200, tags=[{"Key": "owner", "Value": "web"}])

    (item,) = acm.list_certificates(make_ctx())

    assert (item.technology, item.region, item.id, item.name, item.arn) == (
        "acm.certificate",
        REGION,
        arn.rsplit("/", 1)[1],
        "example.com",
        arn,
    )
    config = item.configuration
    assert set(config) == {*acm._FIELDS, "Tags"}
    fields = ("DomainName", "Status", "Type", "KeyAlgorithm", "Serial", "Subject")
    assert {k: config[k] for k in fields} == {
        "DomainName": "example.com",
        "Status": "ISSUED",
        "Type": "IMPORTED",
        "KeyAlgorithm": "RSA_2048",
        "Serial": "4242",
        "Subject": "CN=example.com",
    }
    assert sorted(config["SubjectAlternativeNames"]) == ["example.com", "www.example.com"]
    assert isinstance(config["NotAfter"], datetime.datetime)
    assert config["NotAfter"] - config["NotBefore"] == datetime.timedelta(days=201)
    assert config["InUseBy"] == []
    assert config["RenewalEligibility"] == "INELIGIBLE"
    assert config["Options"] == {"CertificateTransparencyLoggingPreference": "ENABLED", "Export": "DISABLED"}
    assert config["RevokedAt"] is None  # absent fields are explicit
    assert config["Tags"] == {"owner": "web"}


def test_ecdsa_and_pending_certificates_are_listed_too(aws):
    _import(aws, "ec.example.com", 90, key=ec.generate_private_key(ec.SECP256R1()))
    aws.request_certificate(
        DomainName="req.example.com",
        ValidationMethod="DNS",
        SubjectAlternativeNames=["req.example.com", "a.example.com"],
    )

    items = {item.name: item.configuration for item in acm.list_certificates(make_ctx())}

    assert items["ec.example.com"]["KeyAlgorithm"] == "EC_prime256v1"
    pending = items["req.example.com"]
    assert (pending["Status"], pending["Type"]) == ("PENDING_VALIDATION", "AMAZON_ISSUED")
    validated = {option["DomainName"] for option in pending["DomainValidationOptions"]}
    assert validated == {"req.example.com", "a.example.com"}


def test_listing_names_every_status_and_key_type(monkeypatch):
    """ListCertificates omits non-RSA_2048/1024 keys unless asked: the watcher asks for all of them."""
    ctx, stub = _stubbed_ctx(monkeypatch)
    filters = acm._list_filters()
    assert {"EC_prime256v1", "RSA_4096", "RSA_2048"} <= set(filters["Includes"]["keyTypes"])
    assert {"ISSUED", "EXPIRED", "PENDING_VALIDATION", "REVOKED"} <= set(filters["CertificateStatuses"])
    stub.add_response("list_certificates", {"CertificateSummaryList": [], "NextToken": "t1"}, filters)
    stub.add_response("list_certificates", {"CertificateSummaryList": []}, {**filters, "NextToken": "t1"})
    with stub:
        assert acm.list_certificates(ctx) == []
    stub.assert_no_pending_responses()


def test_api_calls_per_certificate(aws):
    for n in range(3):
        _import(aws, f"site{n}.example.com", 100)
    ctx = make_ctx()

    assert len(acm.list_certificates(ctx)) == 3

    assert dict(ctx.calls) == {
        "acm:ListCertificates": 1,
        "acm:DescribeCertificate": 3,
        "acm:ListTagsForCertificate": 3,
    }


def test_certificates_of_another_region_are_not_listed(aws):
    _import(aws, "example.com", 100)
    assert acm.list_certificates(make_ctx("eu-west-1")) == []


def test_certificate_deleted_between_list_and_describe_is_skipped(aws, monkeypatch):
    _import(aws, "keeper.example.com", 100)
    doomed = _import(aws, "doomed.example.com", 100)
    ctx = make_ctx()
    make_client = ctx.client

    def client_that_races_a_deletion(service, region=None):
        client = make_client(service, region)
        client.meta.events.register(
            "after-call.acm.ListCertificates", lambda **_: aws.delete_certificate(CertificateArn=doomed)
        )
        return client

    monkeypatch.setattr(ctx, "client", client_that_races_a_deletion)

    assert [item.name for item in acm.list_certificates(ctx)] == ["keeper.example.com"]


def _stubbed_ctx(monkeypatch) -> tuple[SliceContext, Stubber]:
    ctx = make_ctx()
    client = boto3.client("acm", region_name=REGION)
    stub = Stubber(client)
    monkeypatch.setattr(ctx, "client", lambda service, region=None: client)
    monkeypatch.setattr(acm, "CERTIFICATE_WORKERS", 1)  # the stub answers in order
    return ctx, stub


CERTIFICATE_ID = "0f0e0d0c-aaaa-bbbb-cccc-1234567890ab"
SUMMARY = {"CertificateArn": f"arn:aws:acm:{REGION}:{ACCOUNT}:certificate/{CERTIFICATE_ID}"}


def test_certificate_deleted_before_its_tags_are_read_is_skipped(monkeypatch):
    ctx, stub = _stubbed_ctx(monkeypatch)
    stub.add_response("list_certificates", {"CertificateSummaryList": [SUMMARY]}, acm._list_filters())
    stub.add_response("describe_certificate", {"Certificate": {"DomainName": "gone.example.com"}})
    stub.add_client_error(
        "list_tags_for_certificate", service_error_code="ResourceNotFoundException", http_status_code=400
    )
    with stub:
        assert acm.list_certificates(ctx) == []


@pytest.mark.parametrize(
    "failing", ["list_certificates", "describe_certificate", "list_tags_for_certificate"]
)
def test_any_failed_call_fails_the_whole_listing(monkeypatch, failing):
    ctx, stub = _stubbed_ctx(monkeypatch)
    calls = [
        ("list_certificates", {"CertificateSummaryList": [SUMMARY]}),
        ("describe_certificate", {"Certificate": {"DomainName": "x.example.com"}}),
        ("list_tags_for_certificate", {"Tags": []}),
    ]
    for method, response in calls:
        if method == failing:
            stub.add_client_error(method, service_error_code="ThrottlingException", http_status_code=400)
            break
        stub.add_response(method, response)
    with stub, pytest.raises(ClientError, match="ThrottlingException"):
        acm.list_certificates(ctx)


def test_unordered_lists_are_sorted_in_the_document(aws):
    _import(aws, "example.com", 100)
    (item,) = acm.list_certificates(make_ctx())
    document = normalize_item(item, TECH, account_id=ACCOUNT, secret_key=b"k").document
    assert document["configuration"]["SubjectAlternativeNames"] == ["example.com", "www.example.com"]


def test_expiry_rules_read_the_watchers_output(aws):
    for domain, days in (("soon.example.com", 20), ("later.example.com", 45), ("fine.example.com", 300)):
        _import(aws, domain, days)
    rules = RuleSet.load({}, base_dir=Path.cwd())
    now = datetime.datetime.now(datetime.UTC)

    def findings(at: datetime.datetime) -> dict[str, set[str]]:
        audit = AuditContext.from_config({}, account_id=ACCOUNT, account_name="prod", now=at)
        result = {}
        for item in acm.list_certificates(make_ctx()):
            document = normalize_item(item, TECH, account_id=ACCOUNT, secret_key=b"k").document
            result[item.name] = {f.rule_id for f in rules.evaluate(document, None, audit)}
        return result

    assert findings(now) == {
        "soon.example.com": {"acm.certificate.expiring-30-days", "acm.certificate.expiring-60-days"},
        "later.example.com": {"acm.certificate.expiring-60-days"},
        "fine.example.com": set(),
    }
    assert findings(now + datetime.timedelta(days=100))["later.example.com"] == {"acm.certificate.expired"}


def test_rsa_1024_certificate_is_found_on_moto_output(aws):
    """FSBP ACM.2 on an imported certificate with a 1024-bit RSA key."""
    weak_key = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505 - the point
    _import(aws, "weak.example.com", 300, key=weak_key)
    _import(aws, "strong.example.com", 300)
    rules = RuleSet.load({}, base_dir=Path.cwd())
    now = datetime.datetime.now(datetime.UTC)
    audit = AuditContext.from_config({}, account_id=ACCOUNT, account_name="prod", now=now)

    found = {}
    for item in acm.list_certificates(make_ctx()):
        document = normalize_item(item, TECH, account_id=ACCOUNT, secret_key=b"k").document
        found[item.name] = {(f.rule_id, f.score) for f in rules.evaluate(document, None, audit)}

    assert found == {
        "weak.example.com": {("acm.certificate.rsa-key-under-2048-bits", 8)},
        "strong.example.com": set(),
    }


# --- the garbled-answer test's seeding -----------------------------------------------------------

def _seed_certificate(client: Callable[..., Any]) -> None:
    """An imported certificate expiring in 20 days, with a tag (issues of score 10)."""
    _import(client("acm"), "seed.example.com", 20, tags=[{"Key": "team", "Value": "web"}])


GARBLE_SEEDS: dict[str, Callable[[Callable[..., Any]], None]] = {"acm.certificate": _seed_certificate}


def test_garble_seeds_create_items(aws):
    for seed in GARBLE_SEEDS.values():
        seed(lambda service, region_name=REGION: boto3.client(service, region_name=region_name))
    assert [item.name for item in acm.list_certificates(make_ctx())] == ["seed.example.com"]

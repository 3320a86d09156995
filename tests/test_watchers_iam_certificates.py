"""IAM server certificate and SAML provider watchers against moto (and a Stubber where moto cannot
say it): fingerprints and parsed facts (and the fallback without cryptography), never the private
key, metadata hash and entity id, races, failures, call counts and the certificate rules."""

from __future__ import annotations

import datetime
import hashlib
from pathlib import Path

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
from gitmonkey.model import GLOBAL_REGION
from gitmonkey.normalize import normalize_item
from gitmonkey.read.aws import SliceContext
from gitmonkey.watchers import all_technologies, iam
from tests.helpers import slice_context

ACCOUNT = "123456789012"
SERVER_CERT = all_technologies()["iam.server_certificate"]
SAML = all_technologies()["iam.saml_provider"]
NOT_AFTER = datetime.datetime(2031, 5, 1, tzinfo=datetime.UTC)
ENTITY = "https://idp.example.com/saml/metadata"
METADATA = (
    '<?xml version="1.0"?>\n<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" '
    f"entityID='{ENTITY}'><md:IDPSSODescriptor protocolSupportEnumeration="
    '"urn:oasis:names:tc:SAML:2.0:protocol"><md:SingleSignOnService '
    'Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://idp.example.com/sso"/>'
    "</md:IDPSSODescriptor></md:EntityDescriptor>\n<!-- " + "padding " * 120 + "-->"
)  # botocore wants at least 1,000 characters


def make_ctx() -> SliceContext:
    return slice_context(GLOBAL_REGION)


def certificate(common_name: str, key, signer=None) -> x509.Certificate:
    signer = signer or key
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Example CA")]))
        .public_key(key.public_key())
        .serial_number(0x1092)
        .not_valid_before(datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC))
        .not_valid_after(NOT_AFTER)
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName(f"www.{common_name}"), x509.DNSName(common_name)]),
            False,
        )
        .sign(signer, hashes.SHA256())
    )


def pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


@pytest.fixture(scope="module")
def keys():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048), ec.generate_private_key(
        ec.SECP256R1()
    )


@pytest.fixture
def aws(keys):
    with mock_aws():
        yield boto3.client("iam", region_name="us-east-1")


def _upload(client, keys, name: str = "web") -> tuple[x509.Certificate, x509.Certificate, str]:
    rsa_key, ec_key = keys
    body, chain = certificate("example.com", rsa_key), certificate("Example CA", ec_key)
    private = rsa_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    client.upload_server_certificate(
        ServerCertificateName=name,
        Path="/cloudfront/",
        CertificateBody=pem(body),
        PrivateKey=private,
        CertificateChain=pem(chain),
    )
    return body, chain, private


def test_server_certificate_fingerprints_and_parsed_facts(aws, keys):
    body, chain, private = _upload(aws, keys)

    (item,) = iam.list_server_certificates(make_ctx())

    assert (item.technology, item.region, item.id, item.name) == (
        "iam.server_certificate",
        "global",
        "web",
        "web",
    )
    assert item.arn == f"arn:aws:iam::{ACCOUNT}:server-certificate/cloudfront/web"
    config = item.configuration
    assert config["Path"] == "/cloudfront/"
    assert config["ServerCertificateId"]
    assert isinstance(config["Expiration"], datetime.datetime)
    assert isinstance(config["UploadDate"], datetime.datetime)
    der = body.public_bytes(serialization.Encoding.DER)
    assert config["Fingerprint"] == f"sha256:{hashlib.sha256(der).hexdigest()}"
    assert config["Fingerprint"] == "sha256:" + body.fingerprint(hashes.SHA256()).hex()
    assert config["ChainFingerprints"] == ["sha256:" + chain.fingerprint(hashes.SHA256()).hex()]
    assert config["Certificate"] == {
        "Parseable": True,
        "Subject": "CN=example.com",
        "CommonName": "example.com",
        "Issuer": "CN=Example CA",
        "SerialNumber": "1092",
        "NotBefore": datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC),
        "NotAfter": NOT_AFTER,
        "SignatureAlgorithmOid": "1.2.840.113549.1.1.11",
        "SignatureHashAlgorithm": "sha256",
        "KeyType": "RSA",
        "KeySize": 2048,
        "SubjectAlternativeNames": ["example.com", "www.example.com"],
    }
    assert config["Tags"] == {}
    content = normalize_item(item, SERVER_CERT, account_id=ACCOUNT, secret_key=b"k").content.decode()
    assert "BEGIN" not in content
    assert private.splitlines()[1] not in content


def test_without_cryptography_only_the_fingerprints_are_recorded(aws, keys, monkeypatch):
    body, _, _ = _upload(aws, keys)
    monkeypatch.setattr(iam, "_x509", None)

    (item,) = iam.list_server_certificates(make_ctx())

    assert item.configuration["Certificate"] is None
    assert item.configuration["Fingerprint"] == "sha256:" + body.fingerprint(hashes.SHA256()).hex()


def test_fingerprints_of_texts_that_are_not_pem():
    assert iam._fingerprints(None) == []
    assert iam._fingerprints("garbage") == [f"sha256-text:{hashlib.sha256(b'garbage').hexdigest()}"]
    assert iam._parsed_certificate(b"\x30\x03\x02\x01\x00") == {"Parseable": False}


def test_ecdsa_certificate_key_facts(keys):
    rsa_key, ec_key = keys
    facts = iam._parsed_certificate(
        certificate("ec.example.com", ec_key, rsa_key).public_bytes(serialization.Encoding.DER)
    )
    assert (facts["KeyType"], facts["KeySize"]) == ("EC", 256)


def test_server_certificate_api_calls_and_race(aws, keys, monkeypatch):
    _upload(aws, keys, "keeper")
    _upload(aws, keys, "doomed")
    ctx = make_ctx()
    make_client = ctx.client

    def client_that_races_a_deletion(service, region=None):
        client = make_client(service, region)
        client.meta.events.register(
            "after-call.iam.ListServerCertificates",
            lambda **_: aws.delete_server_certificate(ServerCertificateName="doomed"),
        )
        return client

    monkeypatch.setattr(ctx, "client", client_that_races_a_deletion)

    assert [item.id for item in iam.list_server_certificates(ctx)] == ["keeper"]
    assert dict(ctx.calls) == {"iam:ListServerCertificates": 1, "iam:GetServerCertificate": 2}


def test_saml_provider_records_hash_and_entity_id_not_the_document(aws):
    arn = aws.create_saml_provider(
        SAMLMetadataDocument=METADATA, Name="okta", Tags=[{"Key": "team", "Value": "identity"}]
    )["SAMLProviderArn"]
    ctx = make_ctx()

    (item,) = iam.list_saml_providers(ctx)

    assert (item.technology, item.region, item.id, item.name, item.arn) == (
        "iam.saml_provider",
        "global",
        "okta",
        "okta",
        arn,
    )
    config = item.configuration
    assert config["EntityId"] == ENTITY
    assert config["MetadataDocumentSha256"] == hashlib.sha256(METADATA.encode()).hexdigest()
    assert isinstance(config["ValidUntil"], datetime.datetime)
    assert isinstance(config["CreateDate"], datetime.datetime)
    assert config["PrivateKeyList"] == []
    assert dict(ctx.calls) == {"iam:ListSAMLProviders": 1, "iam:GetSAMLProvider": 1}
    content = normalize_item(item, SAML, account_id=ACCOUNT, secret_key=b"k").content.decode()
    assert "SingleSignOnService" not in content


def _stubbed_ctx(monkeypatch) -> tuple[SliceContext, Stubber]:
    ctx = make_ctx()
    client = boto3.client("iam", region_name="us-east-1")
    stub = Stubber(client)
    monkeypatch.setattr(ctx, "client", lambda service, region=None: client)
    return ctx, stub


SAML_ARN = f"arn:aws:iam::{ACCOUNT}:saml-provider/azure"
KEY_ID = "KEYAAAAAAAAAAAAAAAAAA1"


def test_saml_provider_deleted_meanwhile_is_skipped_and_key_ids_are_kept(monkeypatch):
    ctx, stub = _stubbed_ctx(monkeypatch)
    stub.add_response(
        "list_saml_providers", {"SAMLProviderList": [{"Arn": SAML_ARN}, {"Arn": SAML_ARN + "2"}]}
    )
    stub.add_response(
        "get_saml_provider",
        {
            "SAMLMetadataDocument": '<EntityDescriptor entityID="urn:azure"/><!--' + "x" * 1000 + "-->",
            "AssertionEncryptionMode": "Required",
            "PrivateKeyList": [
                {"KeyId": KEY_ID, "Timestamp": datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC)}
            ],
            "Tags": [{"Key": "k", "Value": "v"}],
        },
    )
    stub.add_client_error("get_saml_provider", service_error_code="NoSuchEntity", http_status_code=404)
    with stub:
        (item,) = iam.list_saml_providers(ctx)
    config = item.configuration
    assert (item.id, config["EntityId"], config["AssertionEncryptionMode"]) == (
        "azure",
        "urn:azure",
        "Required",
    )
    assert config["PrivateKeyList"] == [
        {"KeyId": KEY_ID, "Timestamp": datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC)}
    ]
    assert config["Tags"] == {"k": "v"}


@pytest.mark.parametrize(
    ("lister", "calls"),
    [
        (
            iam.list_saml_providers,
            [("list_saml_providers", {"SAMLProviderList": [{"Arn": SAML_ARN}]}), ("get_saml_provider", {})],
        ),
        (
            iam.list_server_certificates,
            [
                (
                    "list_server_certificates",
                    {
                        "ServerCertificateMetadataList": [
                            {
                                "Path": "/",
                                "ServerCertificateName": "web",
                                "ServerCertificateId": "ASCAEXAMPLE1234567",
                                "Arn": f"arn:aws:iam::{ACCOUNT}:server-certificate/web",
                            }
                        ]
                    },
                ),
                ("get_server_certificate", {}),
            ],
        ),
    ],
)
@pytest.mark.parametrize("failing_call", [0, 1])
def test_any_failed_call_fails_the_whole_listing(monkeypatch, lister, calls, failing_call):
    ctx, stub = _stubbed_ctx(monkeypatch)
    for method, response in calls[:failing_call]:
        stub.add_response(method, response)
    stub.add_client_error(calls[failing_call][0], service_error_code="Throttling", http_status_code=400)
    with stub, pytest.raises(ClientError, match="Throttling"):
        lister(ctx)


def test_expiry_rules_read_the_watchers_output(aws, keys):
    _upload(aws, keys)
    (item,) = iam.list_server_certificates(make_ctx())
    document = normalize_item(item, SERVER_CERT, account_id=ACCOUNT, secret_key=b"k").document
    rules = RuleSet.load({}, base_dir=Path.cwd())
    expiration = item.configuration["Expiration"]

    def findings(days_before: int) -> set[str]:
        now = expiration - datetime.timedelta(days=days_before)
        audit = AuditContext.from_config({}, account_id=ACCOUNT, account_name="prod", now=now)
        return {
            f.rule_id
            for f in rules.evaluate(document, None, audit)
            if f.rule_id.startswith("iam.server_cert")
        }

    # moto reports a fixed, made-up upload date from 2010: Security Monkey's Heartbleed check fires.
    heartbleed = {"iam.server_certificate.uploaded-before-heartbleed"}
    assert findings(90) == heartbleed
    assert findings(45) == heartbleed | {"iam.server_certificate.expiring-60-days"}
    assert findings(10) == heartbleed | {
        "iam.server_certificate.expiring-30-days",
        "iam.server_certificate.expiring-60-days",
    }
    assert findings(-1) == heartbleed | {"iam.server_certificate.expired"}

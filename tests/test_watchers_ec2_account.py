"""ec2.account_settings (EBS encryption by default and its key, instance metadata defaults,
snapshot and AMI block public access, serial console access) and the helper that tells "the
endpoint does not implement this operation" from a failure (``_common.read_if_supported``).

moto 5.2 implements only GetEbsEncryptionByDefault: the five newer calls are tested with a
botocore Stubber (answers shaped as AWS documents them), and on moto, in process and through its
server, as "unsupported" settings that neither fail the read nor raise an issue.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.parsers import ResponseParserError
from botocore.stub import Stubber
from moto import mock_aws

from gitmonkey.config import AccountConfig
from gitmonkey.read.aws import AccountSession, SliceContext
from gitmonkey.watchers import _ec2_account, always_returned, get_technology
from gitmonkey.watchers import accessanalyzer as accessanalyzer_watcher
from gitmonkey.watchers import account as account_watcher
from gitmonkey.watchers._common import read_if_supported
from tests.broken_endpoint import MotoServer, broken_endpoint, moto_server
from tests.helpers import ACCOUNT_ID, builtin_findings, normalized, slice_context

REGION = "us-east-1"
TECH = get_technology("ec2.account_settings")
GUARDED = (
    "GetEbsDefaultKmsKeyId",
    "GetImageBlockPublicAccessState",
    "GetInstanceMetadataDefaults",
    "GetSerialConsoleAccessStatus",
    "GetSnapshotBlockPublicAccessState",
)
UNSUPPORTED_ON_MOTO = {
    "EbsDefaultKmsKeyId": None,
    "InstanceMetadataDefaults": None,
    "SnapshotBlockPublicAccess": None,
    "ImageBlockPublicAccess": None,
    "SerialConsoleAccess": None,
    "Unsupported": list(GUARDED),
}
ALL_CALLS = {
    "ec2:GetEbsEncryptionByDefault": 1,
    **{f"ec2:{operation}": 1 for operation in GUARDED},
}
EBS_OFF = "ec2.account_settings.ebs-encryption-by-default-off"
SECURE = {"HttpTokens": "required", "HttpPutResponseHopLimit": 2, "ManagedBy": "account"}
WERKZEUG_PAGE = (
    "<!doctype html>\n<html lang=en>\n<title>500 Internal Server Error</title>\n"
    "<h1>Internal Server Error</h1>\n<p>The server encountered an internal error and was unable "
    "to complete your request. Either the server is overloaded or there is an error in the "
    "application.</p>\n"
)


@pytest.fixture
def aws():
    with mock_aws():
        yield boto3.client("ec2", region_name=REGION)


def _read(region: str = REGION) -> tuple[Any, SliceContext]:
    ctx = slice_context(region)
    (item,) = _ec2_account.list_account_settings(ctx)
    return item, ctx


def _rules(item: Any) -> list[str]:
    return [rule for rule, _ in builtin_findings(item)]


# --- moto, in process: the five newer settings are "unsupported" --------------------------------


def test_fresh_region_on_moto_records_what_it_could_not_read(aws):
    item, ctx = _read()
    assert (item.technology, item.region, item.id, item.name, item.arn) == (
        "ec2.account_settings", REGION, REGION, REGION, "",
    )
    assert item.configuration == {"EbsEncryptionByDefault": False, **UNSUPPORTED_ON_MOTO}
    assert dict(ctx.calls) == ALL_CALLS, "six calls per region, whatever the endpoint supports"
    # only the setting moto could report raises an issue; an unsupported one raises none
    assert builtin_findings(item) == [(EBS_OFF, f"EBS encryption by default is off in {REGION}")]


def test_moto_resync_is_identical_and_enabling_encryption_is_a_change(aws):
    first, _ = _read()
    again, _ = _read()
    assert normalized(again).content == normalized(first).content
    aws.enable_ebs_encryption_by_default()
    after, _ = _read()
    assert after.configuration["EbsEncryptionByDefault"] is True
    assert normalized(after).content != normalized(first).content
    assert builtin_findings(after) == []
    other, _ = _read("eu-west-1")
    assert other.id == "eu-west-1" and other.configuration["EbsEncryptionByDefault"] is False


# --- AWS's answers, through a Stubber ------------------------------------------------------------


def _stubbed(monkeypatch, endpoint_url: str | None = None) -> tuple[SliceContext, Stubber]:
    ctx = slice_context(REGION)
    client = boto3.client(
        "ec2", region_name=REGION, endpoint_url=endpoint_url, aws_access_key_id="x", aws_secret_access_key="x"
    )
    monkeypatch.setattr(ctx, "client", lambda service, region=None: client)
    return ctx, Stubber(client)


def _answers(
    *,
    encrypted: bool = True,
    key: str = "alias/aws/ebs",
    metadata: dict[str, Any] | None = None,
    snapshots: str = "block-all-sharing",
    images: str = "block-new-sharing",
    serial: bool = False,
) -> list[tuple[str, dict[str, Any]]]:
    """The six answers in call order, shaped as AWS documents them."""
    return [
        ("get_ebs_encryption_by_default", {"EbsEncryptionByDefault": encrypted, "SseType": "sse-ebs"}),
        ("get_ebs_default_kms_key_id", {"KmsKeyId": key}),
        ("get_instance_metadata_defaults", {"AccountLevel": SECURE if metadata is None else metadata}),
        ("get_snapshot_block_public_access_state", {"State": snapshots, "ManagedBy": "account"}),
        ("get_image_block_public_access_state",
         {"ImageBlockPublicAccessState": images, "ManagedBy": "account"}),
        ("get_serial_console_access_status", {"SerialConsoleAccessEnabled": serial, "ManagedBy": "account"}),
    ]


def _stub_read(monkeypatch, answers: list[tuple[str, Any]], endpoint_url: str | None = None) -> Any:
    ctx, stub = _stubbed(monkeypatch, endpoint_url)
    for method, answer in answers:
        if isinstance(answer, dict):
            stub.add_response(method, answer, {})
        else:
            code, status, message = answer
            stub.add_client_error(method, code, message, status)
    with stub:
        (item,) = _ec2_account.list_account_settings(ctx)
    stub.assert_no_pending_responses()
    return item


def test_every_setting_is_recorded_as_aws_returns_it(monkeypatch):
    metadata = {"HttpTokens": "required", "HttpPutResponseHopLimit": 2, "HttpEndpoint": "enabled",
                "InstanceMetadataTags": "disabled", "ManagedBy": "account"}
    item = _stub_read(monkeypatch, _answers(key="alias/ebs-default", metadata=metadata))
    assert item.configuration == {
        "EbsEncryptionByDefault": True,
        "EbsDefaultKmsKeyId": "alias/ebs-default",
        "InstanceMetadataDefaults": metadata,
        "SnapshotBlockPublicAccess": {"State": "block-all-sharing", "ManagedBy": "account"},
        "ImageBlockPublicAccess": {
            "ImageBlockPublicAccessState": "block-new-sharing", "ManagedBy": "account"
        },
        "SerialConsoleAccess": {"SerialConsoleAccessEnabled": False, "ManagedBy": "account"},
        "Unsupported": [],
    }
    assert builtin_findings(item) == []
    again = _stub_read(monkeypatch, _answers(key="alias/ebs-default", metadata=metadata))
    assert normalized(again).content == normalized(item).content


def test_a_new_aws_account_raises_only_low_scored_issues(monkeypatch):
    """AWS's defaults: encryption off, no metadata defaults, snapshots unblocked, AMIs blocked
    (since late 2023), serial console off."""
    item = _stub_read(monkeypatch, _answers(encrypted=False, metadata={}, snapshots="unblocked"))
    assert item.configuration["InstanceMetadataDefaults"] == {}
    assert builtin_findings(item) == [
        (EBS_OFF, f"EBS encryption by default is off in {REGION}"),
        ("ec2.account_settings.imdsv2-not-default",
         f"new instances in {REGION} do not require IMDSv2 by default (HttpTokens not set)"),
        ("ec2.account_settings.snapshot-block-public-access-off",
         f"block public access for EBS snapshots is unblocked in {REGION}"),
    ]
    scores = {rule.id: rule.score for rule in _ruleset().rules if rule.id in _rules(item)}
    assert scores and max(scores.values()) < 6


def _ruleset() -> Any:
    from tests.helpers import _builtin_rules

    return _builtin_rules()


@pytest.mark.parametrize(
    ("answers", "rule"),
    [
        (_answers(metadata={"HttpTokens": "optional"}), "ec2.account_settings.imdsv2-not-default"),
        (_answers(snapshots="block-new-sharing"), "ec2.account_settings.snapshot-block-public-access-off"),
        (_answers(images="unblocked"), "ec2.account_settings.image-block-public-access-off"),
        (_answers(serial=True), "ec2.account_settings.serial-console-access-enabled"),
        (_answers(encrypted=False), "ec2.account_settings.ebs-encryption-by-default-off"),
    ],
    ids=["imds-optional", "snapshots-new-sharing-only", "amis-unblocked", "serial-console-on",
         "ebs-unencrypted"],
)
def test_each_insecure_setting_fires_its_rule_only(monkeypatch, answers, rule):
    assert _rules(_stub_read(monkeypatch, answers)) == [rule]


def test_a_metadata_default_that_disables_the_endpoint_passes(monkeypatch):
    metadata = {"HttpEndpoint": "disabled", "ManagedBy": "declarative-policy"}
    item = _stub_read(monkeypatch, _answers(metadata=metadata))
    assert _rules(item) == []


@pytest.mark.parametrize(
    ("code", "status"),
    [("UnsupportedOperation", 400), ("InvalidAction", 400), ("UnknownOperationException", 400),
     ("NotImplemented", 501), ("InternalFailure", 501)],
)
def test_an_operation_aws_does_not_offer_is_recorded_as_unsupported(monkeypatch, code, status):
    answers: list[tuple[str, Any]] = list(_answers(serial=True))
    answers[5] = ("get_serial_console_access_status", (code, status, "not supported in this region"))
    answers[3] = ("get_snapshot_block_public_access_state", (code, status, "not supported"))
    item = _stub_read(monkeypatch, answers)
    assert item.configuration["SerialConsoleAccess"] is None
    assert item.configuration["SnapshotBlockPublicAccess"] is None
    assert item.configuration["Unsupported"] == [
        "GetSerialConsoleAccessStatus", "GetSnapshotBlockPublicAccessState"
    ]
    assert item.configuration["ImageBlockPublicAccess"]["ImageBlockPublicAccessState"] == "block-new-sharing"
    assert _rules(item) == [], "no rule fires on a setting the endpoint could not report"


@pytest.mark.parametrize("index", range(6))
@pytest.mark.parametrize(
    ("code", "status"),
    [("UnauthorizedOperation", 403), ("AccessDenied", 403), ("RequestLimitExceeded", 503),
     ("InternalError", 500), ("Unavailable", 503)],
)
def test_every_other_failure_of_any_call_raises(monkeypatch, index, code, status):
    answers: list[tuple[str, Any]] = list(_answers())[: index + 1]
    answers[index] = (answers[index][0], (code, status, "no"))
    ctx, stub = _stubbed(monkeypatch)
    for method, answer in answers:
        if isinstance(answer, dict):
            stub.add_response(method, answer, {})
        else:
            stub.add_client_error(method, answer[0], answer[2], answer[1])
    with stub, pytest.raises(ClientError):
        _ec2_account.list_account_settings(ctx)


def test_moto_servers_page_from_an_aws_endpoint_is_a_failure(monkeypatch):
    """The werkzeug 500 page means "moto does not implement it" only from a custom endpoint: from
    AWS's own endpoint a 5xx raises, whatever its body."""
    answers: list[tuple[str, Any]] = list(_answers())[:2]
    answers[1] = ("get_ebs_default_kms_key_id", ("500", 500, WERKZEUG_PAGE))
    with pytest.raises(ClientError):
        _stub_read(monkeypatch, answers)


def test_moto_servers_page_from_a_custom_endpoint_is_unsupported(monkeypatch):
    answers: list[tuple[str, Any]] = list(_answers())
    answers[1] = ("get_ebs_default_kms_key_id", ("500", 500, WERKZEUG_PAGE))
    item = _stub_read(monkeypatch, answers, endpoint_url="http://127.0.0.1:5000")
    assert item.configuration["Unsupported"] == ["GetEbsDefaultKmsKeyId"]
    other = list(_answers())[:2]
    other[1] = ("get_ebs_default_kms_key_id", ("InternalError", 500, "We encountered an internal error."))
    with pytest.raises(ClientError):
        _stub_read(monkeypatch, other, endpoint_url="http://127.0.0.1:5000")


def test_a_change_of_any_setting_is_a_change(monkeypatch):
    base = normalized(_stub_read(monkeypatch, _answers())).content
    for changed in (_answers(key="arn:aws:kms:us-east-1:123456789012:key/k"), _answers(images="unblocked"),
                    _answers(metadata={"HttpTokens": "required"}), _answers(serial=True),
                    _answers(snapshots="unblocked")):
        assert normalized(_stub_read(monkeypatch, changed)).content != base


def test_technology_declaration():
    assert TECH.is_global is False
    assert TECH.iam_actions == (
        "ec2:GetEbsEncryptionByDefault",
        "ec2:GetEbsDefaultKmsKeyId",
        "ec2:GetInstanceMetadataDefaults",
        "ec2:GetSnapshotBlockPublicAccessState",
        "ec2:GetImageBlockPublicAccessState",
        "ec2:GetSerialConsoleAccessStatus",
    )
    assert {f"ec2:{op}" for op in GUARDED} | {"ec2:GetEbsEncryptionByDefault"} == {
        f"ec2:{action.split(':')[1]}" for action in TECH.iam_actions
    }
    assert not TECH.secret_paths and not TECH.ephemeral_paths
    assert dict(TECH.always_returned) == {
        "ec2:GetEbsEncryptionByDefault": ("EbsEncryptionByDefault",),
        "ec2:GetEbsDefaultKmsKeyId": ("KmsKeyId",),
        "ec2:GetSnapshotBlockPublicAccessState": ("State",),
        "ec2:GetImageBlockPublicAccessState": ("ImageBlockPublicAccessState",),
        "ec2:GetSerialConsoleAccessStatus": ("SerialConsoleAccessEnabled",),
    }


# --- read_if_supported itself: moto in process, moto's server, Stubber ----------------------------


def _denied(*_: Any, **__: Any) -> Any:
    raise ClientError({"Error": {"Code": "AccessDenied", "Message": "no"},
                       "ResponseMetadata": {"HTTPStatusCode": 403}}, "GetThing")


def test_helper_in_process_moto(aws):
    assert read_if_supported(aws, aws.get_serial_console_access_status) is None  # NotImplementedError
    assert read_if_supported(aws, aws.get_ebs_encryption_by_default)["EbsEncryptionByDefault"] is False
    analyzer = boto3.client("accessanalyzer", region_name=REGION)
    assert read_if_supported(analyzer, analyzer.list_analyzers) is None  # 404 "Not yet implemented"
    with pytest.raises(ClientError):
        read_if_supported(aws, _denied)


def test_helper_never_hides_what_is_not_an_unsupported_answer(aws):
    def bug() -> Any:
        raise KeyError("Snapshots")

    with pytest.raises(KeyError):
        read_if_supported(aws, bug)
    denied_404 = ClientError({"Error": {"Code": "404", "Message": "Not Found"},
                              "ResponseMetadata": {"HTTPStatusCode": 404}}, "ListAnalyzers")

    def not_found() -> Any:
        raise denied_404

    with pytest.raises(ClientError):
        read_if_supported(aws, not_found)

    def garbled() -> Any:
        raise ResponseParserError("Unable to parse response: <html>502 Bad Gateway</html>")

    with pytest.raises(ResponseParserError):
        read_if_supported(aws, garbled)


@pytest.fixture(scope="module")
def server() -> Iterator[MotoServer]:
    with moto_server() as running:
        yield running


def _server_session(url: str) -> AccountSession:
    account = AccountConfig(name="lab", id=ACCOUNT_ID, regions=(REGION,), endpoint_url=url)
    return AccountSession(account, max_attempts=1, always_returned=always_returned())


def test_helper_through_moto_server(server):
    """moto's server answers an operation it lacks with HTTP 500 and werkzeug's page: botocore
    raises ResponseParserError for EC2 (the page is not XML) and ClientError "500" for a JSON
    service; both are "unsupported" from that endpoint, as a sync against moto must work."""
    server.reset()
    ctx = SliceContext(_server_session(server.url), REGION)
    ec2 = ctx.client("ec2")
    with pytest.raises(ResponseParserError):
        ec2.get_serial_console_access_status()
    assert read_if_supported(ec2, ec2.get_serial_console_access_status) is None
    assert read_if_supported(ec2, ec2.get_ebs_encryption_by_default)["EbsEncryptionByDefault"] is False
    analyzer = ctx.client("accessanalyzer")
    assert read_if_supported(analyzer, analyzer.list_analyzers) is None


def test_a_real_error_through_moto_server_still_raises(server):
    server.reset()
    ctx = SliceContext(_server_session(server.url), REGION)
    ec2 = ctx.client("ec2")
    with pytest.raises(ClientError) as raised:
        read_if_supported(ec2, lambda: ec2.describe_snapshot_attribute(
            SnapshotId="snap-00000000", Attribute="createVolumePermission"
        ))
    assert raised.value.response["Error"]["Code"] == "InvalidSnapshot.NotFound"


def test_the_posture_items_read_through_moto_server(server):
    """A default sync against a moto server: no read fails for want of an emulated operation."""
    server.reset()
    session = _server_session(server.url)
    boto3.client("ec2", region_name=REGION, endpoint_url=server.url).enable_ebs_encryption_by_default()
    ctx = SliceContext(session, REGION)
    (settings,) = _ec2_account.list_account_settings(ctx)
    assert settings.configuration == {"EbsEncryptionByDefault": True, **UNSUPPORTED_ON_MOTO}
    assert dict(ctx.calls) == ALL_CALLS
    (analyzers,) = accessanalyzer_watcher.list_status(SliceContext(session, REGION))
    assert analyzers.configuration == {"Analyzers": None, "Unsupported": ["ListAnalyzers"]}
    (contacts,) = account_watcher.list_alternate_contacts(SliceContext(session, "global"))
    nobody = {"BILLING": None, "OPERATIONS": None, "SECURITY": None}
    assert contacts.configuration == {"AlternateContacts": nobody}


def test_an_unsupported_setting_keeps_its_place_in_a_resync(aws):
    """Unsupported is sorted and stable: the same endpoint gives the same document."""
    first, _ = _read()
    backwards = list(reversed(first.configuration["Unsupported"]))
    shuffled = dataclasses.replace(first, configuration={**first.configuration, "Unsupported": backwards})
    assert normalized(shuffled).content == normalized(first).content


# --- AWS's wire format, over HTTP: a proxy in front of moto's server answers the five calls moto
# lacks as AWS does (also the stand-in answers for the garbled-answer test) ---------------------


def _ec2_answer(operation: str, inner: str) -> bytes:
    return (f'<{operation}Response xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">'
            f"<requestId>seed</requestId>{inner}</{operation}Response>").encode()


def _ec2_error(code: str, message: str) -> bytes:
    return (f"<Response><Errors><Error><Code>{code}</Code><Message>{message}</Message></Error></Errors>"
            "<RequestID>seed</RequestID></Response>").encode()


EC2_ACCOUNT_ANSWERS: dict[str, bytes] = {
    "ec2:GetEbsDefaultKmsKeyId": _ec2_answer("GetEbsDefaultKmsKeyId", "<kmsKeyId>alias/aws/ebs</kmsKeyId>"),
    "ec2:GetInstanceMetadataDefaults": _ec2_answer(
        "GetInstanceMetadataDefaults",
        "<accountLevel><httpTokens>required</httpTokens><httpPutResponseHopLimit>2</httpPutResponseHopLimit>"
        "<managedBy>account</managedBy></accountLevel>",
    ),
    "ec2:GetSnapshotBlockPublicAccessState": _ec2_answer(
        "GetSnapshotBlockPublicAccessState", "<state>block-all-sharing</state><managedBy>account</managedBy>"
    ),
    "ec2:GetImageBlockPublicAccessState": _ec2_answer(
        "GetImageBlockPublicAccessState",
        "<imageBlockPublicAccessState>block-new-sharing</imageBlockPublicAccessState>"
        "<managedBy>account</managedBy>",
    ),
    "ec2:GetSerialConsoleAccessStatus": _ec2_answer(
        "GetSerialConsoleAccessStatus",
        "<serialConsoleAccessEnabled>false</serialConsoleAccessEnabled><managedBy>account</managedBy>",
    ),
}
# For tests/test_unreadable_responses.py: the proxy answers these calls itself (Seed.answers), so
# that each of the six calls of ec2.account_settings answers 2xx and can be garbled.
GARBLE_STAND_INS: dict[str, dict[str, bytes]] = {"ec2.account_settings": EC2_ACCOUNT_ANSWERS}


def _read_through_proxy(
    server: MotoServer, answers: dict[str, tuple[bytes, int]]
) -> tuple[Any, SliceContext]:
    server.reset()
    with broken_endpoint(server.url) as proxy:
        for operation, (body, status) in answers.items():
            proxy.answer(operation, body, status=status)
        ctx = SliceContext(_server_session(proxy.url), REGION)
        (item,) = _ec2_account.list_account_settings(ctx)
    return item, ctx


def test_aws_wire_answers_are_read_and_recorded(server):
    item, ctx = _read_through_proxy(server, {op: (body, 200) for op, body in EC2_ACCOUNT_ANSWERS.items()})
    assert item.configuration == {
        "EbsEncryptionByDefault": False,
        "EbsDefaultKmsKeyId": "alias/aws/ebs",
        "InstanceMetadataDefaults": SECURE,
        "SnapshotBlockPublicAccess": {"State": "block-all-sharing", "ManagedBy": "account"},
        "ImageBlockPublicAccess": {
            "ImageBlockPublicAccessState": "block-new-sharing", "ManagedBy": "account"
        },
        "SerialConsoleAccess": {"SerialConsoleAccessEnabled": False, "ManagedBy": "account"},
        "Unsupported": [],
    }
    assert dict(ctx.calls) == ALL_CALLS
    assert _rules(item) == [EBS_OFF]


def test_aws_wire_errors_unsupported_is_recorded_and_denied_raises(server):
    answers = {op: (body, 200) for op, body in EC2_ACCOUNT_ANSWERS.items()}
    answers["ec2:GetSerialConsoleAccessStatus"] = (
        _ec2_error("UnsupportedOperation", "The requested functionality is not available here."), 400
    )
    item, _ = _read_through_proxy(server, answers)
    assert item.configuration["Unsupported"] == ["GetSerialConsoleAccessStatus"]
    assert item.configuration["SerialConsoleAccess"] is None
    answers["ec2:GetSerialConsoleAccessStatus"] = (
        _ec2_error("UnauthorizedOperation", "You are not authorized to perform this operation."), 403
    )
    with pytest.raises(ClientError) as raised:
        _read_through_proxy(server, answers)
    assert raised.value.response["Error"]["Code"] == "UnauthorizedOperation"

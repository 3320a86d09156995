"""Each channel against a real receiver: aiosmtpd, an HTTP server on 127.0.0.1, SNS in moto."""

from __future__ import annotations

import email
import hashlib
import hmac
import json
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from moto import mock_aws

from gitmonkey import events as ev
from gitmonkey.config import AccountConfig, ConfigError
from gitmonkey.notify import enqueue, flush, send_test, subscriptions
from gitmonkey.notify.channels import DeliveryError, EmailChannel
from gitmonkey.notify.outbox import Outbox

ACCOUNT = AccountConfig(name="prod", id="123456789012")
NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class HttpRecorder:
    """A real HTTP server recording every POST; ``status`` and ``redirect`` choose the answer."""

    def __init__(self, port: int = 0) -> None:
        self.requests: list[dict[str, Any]] = []
        self.status = 200
        self.redirect: str | None = None
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                recorder.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                if recorder.redirect and self.path != recorder.redirect_target_path():
                    self.send_response(recorder.status)
                    self.send_header("Location", recorder.redirect)
                else:
                    self.send_response(200 if recorder.redirect else recorder.status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True)
        self.thread.start()

    def redirect_target_path(self) -> str | None:
        if not self.redirect:
            return None
        return "/" + self.redirect.split("/", 3)[3] if self.redirect.count("/") >= 3 else "/"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


@pytest.fixture
def http() -> Iterator[HttpRecorder]:
    server = HttpRecorder()
    yield server
    server.stop()


class Inbox:
    def __init__(self) -> None:
        self.envelopes: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.envelopes.append(envelope)
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[Controller, Inbox]]:
    inbox = Inbox()

    def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
        ok = auth_data.login == b"bot" and auth_data.password == b"s3cret"
        return AuthResult(success=ok, handled=False)

    controller = Controller(
        inbox, hostname="127.0.0.1", port=free_port(), authenticator=authenticator, auth_require_tls=False
    )
    controller.start()
    yield controller, inbox
    controller.stop()


def new_issue(**kw: Any) -> ev.Event:
    base = dict(
        kind=ev.ISSUE_NEW,
        account="prod",
        account_id=ACCOUNT.id,
        title="sg open to 0.0.0.0/0",
        technology="ec2.security_group",
        region="us-east-1",
        item_id="sg-1",
        item_name="web",
        score=10,
        commit="a" * 40,
        details={"fingerprint": "fp1", "rule": "open_sg"},
    )
    return ev.Event(**{**base, **kw})


def notifications(channel: dict[str, Any], **recipient: Any) -> dict[str, Any]:
    return {"channels": {"main": channel}, "recipients": [{"name": "sec", "channel": "main", **recipient}]}


def test_email_html_and_text_with_login(
    smtp: tuple[Controller, Inbox], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    controller, inbox = smtp
    monkeypatch.setenv("SMTP_PASSWORD", "s3cret")
    conf = notifications(
        login_without_tls("127.0.0.1", controller.port),
        address=["sec@example.com", "ops@example.com"],
    )
    evil = new_issue(item_name="<script>alert(1)</script>")
    assert enqueue(tmp_path, ACCOUNT, [evil], conf, now=NOW) == 1

    result = flush(tmp_path, conf, now=NOW)

    assert (result.delivered, result.pending, result.errors) == (1, 0, [])
    [envelope] = inbox.envelopes
    assert envelope.rcpt_tos == ["sec@example.com", "ops@example.com"]
    mail = email.message_from_bytes(envelope.content, policy=policy.default)
    assert mail["Subject"] == "NEW ISSUE - [prod] issues in ec2.security_group"
    key = json.loads(next((tmp_path / "outbox/sent").glob("*.json")).read_text())["key"]
    assert mail["Message-ID"] == f"<{key}@example.com>"
    text = mail.get_body(("plain",)).get_content()
    html = mail.get_body(("html",)).get_content()
    assert "[10] sg open to 0.0.0.0/0" in text and "<script>alert(1)</script>" in text
    assert "&lt;script&gt;" in html and "<script>" not in html


def test_email_wrong_password_stays_pending(
    smtp: tuple[Controller, Inbox], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    controller, inbox = smtp
    monkeypatch.setenv("SMTP_PASSWORD", "wrong")
    conf = notifications(
        login_without_tls("127.0.0.1", controller.port),
        address="sec@example.com",
    )
    enqueue(tmp_path, ACCOUNT, [new_issue()], conf, now=NOW)

    result = flush(tmp_path, conf, now=NOW)

    assert (result.delivered, result.pending) == (0, 1)
    assert "SMTP login to 127.0.0.1 refused" in result.errors[0]
    assert inbox.envelopes == []


UNSPECIFIED = "0.0.0.0"  # noqa: S104 - connected to (it reaches this machine), never bound


def login_without_tls(host: str, port: int = 25, **extra: Any) -> dict[str, Any]:
    return {
        "type": "email",
        "host": host,
        "port": port,
        "security": "none",
        "username": "bot",
        "password_env": "SMTP_PASSWORD",
        "from": "gitmonkey@example.com",
        **extra,
    }


@pytest.mark.parametrize("host", ["smtp.example.com", "10.0.0.5", UNSPECIFIED, "2001:db8::1", "localhost.a"])
def test_login_without_tls_to_another_host_is_refused_by_the_config(host: str) -> None:
    conf = notifications(login_without_tls(host), address="sec@example.com")
    with pytest.raises(ConfigError) as error:
        subscriptions.load(conf)
    assert str(error.value).startswith(
        f"notifications.channels.main: security: none with a username would send the SMTP password in clear "
        f"to {host}; use security: starttls or ssl"
    )


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", "127.8.9.10", "::1", "[::1]"])
def test_login_without_tls_on_loopback_is_allowed(host: str) -> None:
    settings = subscriptions.load(notifications(login_without_tls(host), address="sec@example.com"))
    assert settings.channels["main"]["host"] == host


def test_no_tls_without_a_login_is_allowed_to_any_host() -> None:
    channel = {"type": "email", "host": "smtp.example.com", "security": "none", "from": "bot@example.com"}
    assert subscriptions.load(notifications(channel, address="sec@example.com")).channels["main"] == channel


def test_login_without_tls_is_refused_at_send_time_before_connecting(
    smtp: tuple[Controller, Inbox], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    controller, inbox = smtp
    monkeypatch.setenv("SMTP_PASSWORD", "s3cret")
    conf = notifications(login_without_tls("127.0.0.1", controller.port), address="sec@example.com")
    enqueue(tmp_path, ACCOUNT, [new_issue()], conf, now=NOW)
    [message] = Outbox(tmp_path).pending()
    # 0.0.0.0 reaches the local server, yet is no loopback address: the channel must not log in.
    channel = EmailChannel("main", login_without_tls(UNSPECIFIED, controller.port))
    with pytest.raises(ConfigError, match=r"password in clear to 0\.0\.0\.0"):
        channel.send(message)
    assert inbox.envelopes == []


def test_webhook_is_signed_over_timestamp_and_body(http: HttpRecorder, tmp_path: Path) -> None:
    secret_file = tmp_path / "secret"
    secret_file.write_text("hook-secret\n")
    conf = notifications({"type": "webhook", "url": http.url + "/hook", "secret_file": str(secret_file)})
    enqueue(tmp_path, ACCOUNT, [new_issue()], conf, now=NOW)

    assert flush(tmp_path, conf, now=NOW).delivered == 1

    [request] = http.requests
    headers, body = request["headers"], request["body"]
    timestamp = headers["X-Gitmonkey-Timestamp"]
    expected = hmac.new(b"hook-secret", timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    assert headers["X-Gitmonkey-Signature"] == f"sha256={expected}"
    payload = json.loads(body)
    assert headers["Idempotency-Key"] == payload["idempotency_key"]
    assert payload["account"] == "prod" and payload["subject"].startswith("NEW ISSUE - [prod]")
    assert payload["events"][0]["details"]["fingerprint"] == "fp1"


def test_slack_escapes_untrusted_names(
    http: HttpRecorder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLACK_URL", http.url + "/services/T/B/X")
    conf = notifications({"type": "slack", "url_env": "SLACK_URL"})
    enqueue(tmp_path, ACCOUNT, [new_issue(item_name="<http://evil|click me>")], conf, now=NOW)

    assert flush(tmp_path, conf, now=NOW).delivered == 1

    text = json.loads(http.requests[0]["body"])["text"]
    assert text.startswith("*NEW ISSUE - [prod] issues in ec2.security_group*")
    assert "&lt;http://evil|click me&gt;" in text and "<http://evil" not in text


def test_redirect_to_another_host_is_not_followed(http: HttpRecorder, tmp_path: Path) -> None:
    http.status, http.redirect = 302, "http://localhost:1/elsewhere"
    conf = notifications({"type": "webhook", "url": http.url + "/hook"})
    enqueue(tmp_path, ACCOUNT, [new_issue()], conf, now=NOW)

    result = flush(tmp_path, conf, now=NOW)

    assert (result.delivered, result.dead, len(http.requests)) == (0, 1, 1)
    assert "redirect to http://localhost:1/elsewhere not followed" in result.errors[0]
    dead = json.loads(next((tmp_path / "outbox/dead").glob("*.json")).read_text())
    assert "permanent error" in dead["last_error"]


def test_same_host_307_is_followed_with_the_body(http: HttpRecorder, tmp_path: Path) -> None:
    http.status, http.redirect = 307, http.url + "/moved"
    conf = notifications({"type": "webhook", "url": http.url + "/hook"})
    enqueue(tmp_path, ACCOUNT, [new_issue()], conf, now=NOW)

    assert flush(tmp_path, conf, now=NOW).delivered == 1

    assert [r["path"] for r in http.requests] == ["/hook", "/moved"]
    assert http.requests[0]["body"] == http.requests[1]["body"]


def test_missing_secret_is_a_named_error_and_the_message_waits(tmp_path: Path) -> None:
    conf = notifications({"type": "slack", "url_env": "GITMONKEY_TEST_UNSET_VAR"})
    enqueue(tmp_path, ACCOUNT, [new_issue()], conf, now=NOW)

    result = flush(tmp_path, conf, now=NOW)

    assert result.pending == 1
    assert "url_env: environment variable GITMONKEY_TEST_UNSET_VAR is not set" in result.errors[0]


@mock_aws
def test_sns_through_an_sqs_subscription(tmp_path: Path) -> None:
    sns = boto3.client("sns", region_name="eu-west-1")
    sqs = boto3.client("sqs", region_name="eu-west-1")
    topic = sns.create_topic(Name="gitmonkey")["TopicArn"]
    queue = sqs.create_queue(QueueName="inbox")["QueueUrl"]
    attributes = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]
    queue_arn = attributes["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    conf = notifications({"type": "sns", "topic_arn": topic})
    enqueue(tmp_path, ACCOUNT, [new_issue(title="ünïcode issue")], conf, now=NOW)

    assert flush(tmp_path, conf, now=NOW).delivered == 1

    [received] = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
    envelope = json.loads(received["Body"])
    payload = json.loads(envelope["Message"])
    assert envelope["Subject"] == "NEW ISSUE - [prod] issues in ec2.security_group"
    assert envelope["MessageAttributes"]["idempotency_key"]["Value"] == payload["idempotency_key"]
    assert payload["events"][0]["title"] == "ünïcode issue"


def test_stdout_channel_and_send_test(capsys: pytest.CaptureFixture[str]) -> None:
    conf = notifications({"type": "stdout"})
    message = send_test(conf, "sec", account=ACCOUNT, now=NOW)
    out = capsys.readouterr().out
    assert "gitmonkey test message for sec at 2026-01-02T03:04:05Z" in out
    assert message["subject"] == "[prod] gitmonkey test message"


def test_send_test_to_a_server_that_is_down_raises(tmp_path: Path) -> None:
    conf = notifications({"type": "webhook", "url": f"http://127.0.0.1:{free_port()}/hook"})
    with pytest.raises(DeliveryError, match=r"cannot reach 127\.0\.0\.1"):
        send_test(conf, "sec", now=NOW)
    with pytest.raises(ConfigError, match="no recipient named 'nobody'"):
        send_test(conf, "nobody", now=NOW)


def self_signed(tmp_path: Path) -> tuple[Path, Path]:
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


@pytest.mark.parametrize("security", ["starttls", "ssl"])
def test_email_over_tls_verifies_the_server(security: str, tmp_path: Path) -> None:
    import ssl

    cert, key = self_signed(tmp_path)
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert, key)
    inbox = Inbox()
    tls = (
        {"tls_context": server_context, "require_starttls": True}
        if security == "starttls"
        else {"ssl_context": server_context}
    )
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port(), **tls)
    controller.start()
    try:
        channel = {
            "type": "email",
            "host": "127.0.0.1",
            "port": controller.port,
            "security": security,
            "from": "gitmonkey@example.com",
            "ca_file": str(cert),
        }
        conf = notifications(channel, address="sec@example.com")
        enqueue(tmp_path, ACCOUNT, [new_issue()], conf, now=NOW)
        without_ca = {k: v for k, v in channel.items() if k != "ca_file"}
        untrusted = flush(tmp_path, {**conf, "channels": {"main": without_ca}}, now=NOW)
        trusted = flush(tmp_path, conf, now=NOW + timedelta(minutes=5))
    finally:
        controller.stop()
    assert (untrusted.delivered, trusted.delivered, len(inbox.envelopes)) == (0, 1, 1)
    assert "CERTIFICATE_VERIFY_FAILED" in untrusted.errors[0]


@mock_aws
def test_sns_fifo_topic_gets_group_and_deduplication_ids(tmp_path: Path) -> None:
    sns = boto3.client("sns", region_name="us-east-1")
    topic = sns.create_topic(Name="gitmonkey.fifo", Attributes={"FifoTopic": "true"})["TopicArn"]
    conf = notifications({"type": "sns", "topic_arn": topic, "region": "us-east-1"})
    enqueue(tmp_path, ACCOUNT, [new_issue()], conf, now=NOW)
    assert flush(tmp_path, conf, now=NOW).delivered == 1


def test_importing_the_notifier_does_not_import_boto3() -> None:
    code = "import sys, gitmonkey.notify, gitmonkey.notify.changes; print('boto3' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"

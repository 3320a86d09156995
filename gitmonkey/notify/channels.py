"""Delivery channels: email (SMTP), Slack, signed JSON webhook, SNS, stdout.

Every channel takes a rendered outbox message and raises ``DeliveryError`` on failure.
``permanent`` errors (a 4xx answer, a refused redirect) are not retried. Channels whose
receiver can deduplicate (webhook: ``Idempotency-Key``; email: ``Message-ID``; SNS FIFO:
``MessageDeduplicationId``) set ``dedupes``; see ``deliver.py`` for what that changes.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import smtplib
import ssl
import sys
import time
import urllib.error
import urllib.request
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from gitmonkey import __version__
from gitmonkey.config import ConfigError
from gitmonkey.notify.outbox import parse_time
from gitmonkey.notify.render import one_line
from gitmonkey.notify.subscriptions import check_clear_login

SIGNATURE_HEADER = "X-Gitmonkey-Signature"
TIMESTAMP_HEADER = "X-Gitmonkey-Timestamp"
SNS_LIMIT = 256 * 1024
USER_AGENT = f"gitmonkey/{__version__}"
_SNS_PERMANENT = ("NotFound", "InvalidParameter", "InvalidParameterValue", "AuthorizationError")


class DeliveryError(Exception):
    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


def read_secret(name: str, config: dict[str, Any], key: str, *, required: bool = True) -> str | None:
    """A secret from ``<key>_env`` (an environment variable) or ``<key>_file`` (a file's content)."""
    where = f"notifications.channels.{name}"
    if f"{key}_env" in config:
        var = config[f"{key}_env"]
        value = os.environ.get(var)
        if not value:
            raise ConfigError(f"{where}.{key}_env: environment variable {var} is not set")
        return value
    if f"{key}_file" in config:
        path = Path(config[f"{key}_file"]).expanduser()
        try:
            value = path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(f"{where}.{key}_file: cannot read {path}: {exc.strerror}") from exc
        if not value:
            raise ConfigError(f"{where}.{key}_file: {path} is empty")
        return value
    if key in config:
        return str(config[key])
    if required:
        raise ConfigError(f"{where}: set {key}_env or {key}_file")
    return None


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=<hex>`` of HMAC-SHA256 over ``<timestamp>.<raw body>``."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


class _SameHostRedirect(urllib.request.HTTPRedirectHandler):
    """Follow only 307/308 to the same scheme, host and port (re-posting the body); refuse the rest."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # type: ignore[no-untyped-def]
        old, new = urlsplit(req.full_url), urlsplit(newurl)
        if code in (307, 308) and (old.scheme, old.netloc) == (new.scheme, new.netloc):
            return urllib.request.Request(  # noqa: S310 - scheme and host equal the checked original
                newurl, data=req.data, headers=dict(req.header_items()), method=req.get_method()
            )
        raise DeliveryError(f"HTTP {code} redirect to {one_line(newurl, 200)} not followed", permanent=True)


_OPENER = urllib.request.build_opener(_SameHostRedirect())


def http_post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> int:
    if urlsplit(url).scheme not in ("http", "https"):
        raise DeliveryError(f"refusing to post to a non-HTTP URL ({urlsplit(url).scheme}:)", permanent=True)
    request = urllib.request.Request(  # noqa: S310 - scheme checked above
        url, data=body, method="POST", headers={"User-Agent": USER_AGENT, **headers}
    )
    host = urlsplit(url).netloc.rpartition("@")[2]
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            response.read(65536)
            return response.status
    except urllib.error.HTTPError as exc:
        permanent = 400 <= exc.code < 500 and exc.code not in (408, 425, 429)
        raise DeliveryError(f"{host} answered HTTP {exc.code} {exc.reason}", permanent=permanent) from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DeliveryError(f"cannot reach {host}: {reason}") from None


class Channel:
    dedupes = False

    def __init__(self, name: str, config: dict[str, Any]) -> None:
        self.name = name
        self.config = config
        self.timeout = float(config.get("timeout", 20))

    def send(self, message: dict[str, Any]) -> None:
        raise NotImplementedError


class StdoutChannel(Channel):
    def send(self, message: dict[str, Any]) -> None:
        sys.stdout.write(message["text"])
        sys.stdout.flush()


class SlackChannel(Channel):
    def send(self, message: dict[str, Any]) -> None:
        url = read_secret(self.name, self.config, "url")
        body = json.dumps({"text": message["slack"]}).encode()
        http_post(url, body, {"Content-Type": "application/json"}, self.timeout)


class WebhookChannel(Channel):
    dedupes = True

    def send(self, message: dict[str, Any]) -> None:
        url = read_secret(self.name, self.config, "url")
        secret = read_secret(self.name, self.config, "secret", required=False)
        body = json.dumps(message["payload"], sort_keys=True, separators=(",", ":")).encode()
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "Idempotency-Key": message["key"],
            TIMESTAMP_HEADER: timestamp,
        }
        if secret:
            headers[SIGNATURE_HEADER] = sign(secret, timestamp, body)
        http_post(url, body, headers, self.timeout)


class EmailChannel(Channel):
    dedupes = True

    def build(self, message: dict[str, Any]) -> EmailMessage:
        mail = EmailMessage()
        mail["Subject"] = one_line(message["subject"], 250)
        mail["From"] = self.config["from"]
        mail["To"] = ", ".join(message["address"])
        mail["Date"] = format_datetime(parse_time(message["created"]))
        domain = parseaddr(self.config["from"])[1].rpartition("@")[2] or "gitmonkey.invalid"
        mail["Message-ID"] = f"<{message['key']}@{domain}>"
        mail["X-Gitmonkey-Idempotency-Key"] = message["key"]
        mail.set_content(message["text"])
        mail.add_alternative(message["html"], subtype="html")
        return mail

    def send(self, message: dict[str, Any]) -> None:
        if not message.get("address"):
            raise DeliveryError("no email address", permanent=True)
        mail = self.build(message)
        check_clear_login(f"notifications.channels.{self.name}", self.config)
        host = self.config["host"]
        security = self.config.get("security", "starttls")
        port = self.config.get("port", {"ssl": 465, "starttls": 587}.get(security, 25))
        try:
            context = ssl.create_default_context(cafile=self.config.get("ca_file"))
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(f"notifications.channels.{self.name}.ca_file: cannot load: {exc}") from None
        password = read_secret(self.name, self.config, "password", required=False)
        try:
            if security == "ssl":
                smtp: smtplib.SMTP = smtplib.SMTP_SSL(host, port, timeout=self.timeout, context=context)
            else:
                smtp = smtplib.SMTP(host, port, timeout=self.timeout)
            with smtp:
                if security == "starttls":
                    smtp.starttls(context=context)
                if self.config.get("username"):
                    smtp.login(self.config["username"], password or "")
                smtp.send_message(mail)
        except smtplib.SMTPAuthenticationError as exc:
            raise DeliveryError(f"SMTP login to {host} refused ({exc.smtp_code})") from None
        except smtplib.SMTPRecipientsRefused as exc:
            refused = ", ".join(exc.recipients)
            raise DeliveryError(f"SMTP server {host} refused {refused}", permanent=True) from None
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryError(f"SMTP to {host}:{port} failed: {exc}") from None


class SnsChannel(Channel):
    def __init__(self, name: str, config: dict[str, Any]) -> None:
        super().__init__(name, config)
        self.dedupes = config["topic_arn"].endswith(".fifo")

    def send(self, message: dict[str, Any]) -> None:
        import boto3
        from botocore.config import Config as BotoConfig
        from botocore.exceptions import BotoCoreError, ClientError

        arn = self.config["topic_arn"]
        region = self.config.get("region") or arn.split(":")[3]
        profile = self.config.get("profile")
        session = boto3.Session(profile_name=profile) if profile else boto3.Session()
        client = session.client(
            "sns", region_name=region, endpoint_url=self.config.get("endpoint_url"),
            config=BotoConfig(
                connect_timeout=self.timeout, read_timeout=self.timeout, retries={"max_attempts": 3}
            ),
        )
        params: dict[str, Any] = {
            "TopicArn": arn,
            "Subject": _sns_subject(message["subject"]),
            "Message": _sns_body(message["payload"]),
            "MessageAttributes": {
                "idempotency_key": {"DataType": "String", "StringValue": message["key"]},
                "account": {"DataType": "String", "StringValue": message["account"]},
            },
        }
        if self.dedupes:
            params["MessageGroupId"] = message["account_id"]
            params["MessageDeduplicationId"] = message["key"][:128]
        try:
            client.publish(**params)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            permanent = code in _SNS_PERMANENT
            raise DeliveryError(f"SNS publish to {arn} failed: {code or exc}", permanent=permanent) from None
        except BotoCoreError as exc:
            raise DeliveryError(f"SNS publish to {arn} failed: {exc}") from None


def _sns_subject(subject: str) -> str:
    """SNS subjects are ASCII, printable, at most 100 characters."""
    text = one_line(subject, 10_000)
    text = "".join(c if " " <= c <= "~" else "_" for c in text)
    return (text if len(text) <= 100 else text[:97] + "...") or "gitmonkey"


def _sns_body(payload: dict[str, Any]) -> str:
    """The JSON payload, with diffs dropped and ``truncated`` set if it exceeds SNS's 256 KB."""
    body = json.dumps(payload, sort_keys=True)
    if len(body.encode()) <= SNS_LIMIT:
        return body
    events = [
        {**e, "details": {k: v for k, v in (e.get("details") or {}).items() if k != "diff"}}
        for e in payload.get("events", [])
    ]
    shrunk = {**payload, "events": events, "truncated": True}
    body = json.dumps(shrunk, sort_keys=True)
    while len(body.encode()) > SNS_LIMIT and shrunk["events"]:
        shrunk["events"] = shrunk["events"][: len(shrunk["events"]) // 2]
        body = json.dumps(shrunk, sort_keys=True)
    return body


CHANNEL_TYPES: dict[str, type[Channel]] = {
    "email": EmailChannel,
    "slack": SlackChannel,
    "webhook": WebhookChannel,
    "sns": SnsChannel,
    "stdout": StdoutChannel,
}


def build_channel(name: str, config: dict[str, Any]) -> Channel:
    return CHANNEL_TYPES[config["type"]](name, config)

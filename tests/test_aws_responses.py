"""Unreadable 2xx answers, attempts and timeouts of the clients gitmonkey makes.

The validator's verdicts per protocol are checked on botocore's own operation models; the
clients are checked against a real HTTP server on 127.0.0.1 that answers as a broken endpoint
would (the end-to-end sync cases are in test_unreadable_responses.py).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import botocore.session
import pytest
from botocore.exceptions import ClientError, ReadTimeoutError

from gitmonkey.config import AccountConfig
from gitmonkey.read.aws import AccountSession, EndpointUnresponsiveError
from gitmonkey.read.aws_responses import UnreadableResponseError, body_problem
from gitmonkey.watchers import all_technologies, always_returned

_MODELS = botocore.session.get_session()


def _op(service: str, operation: str):
    return _MODELS.get_service_model(service).operation_model(operation)


HTML = b"<html><head><title>Gateway</title></head><body><h1>Proxy error</h1></body></html>"

# (service, operation, a well-formed answer as AWS sends it)
GOOD = {
    "json": ("sqs", "ListQueues", b'{"QueueUrls": ["https://sqs.us-east-1.amazonaws.com/123456789012/q"]}'),
    "rest-json": ("lambda", "ListFunctions", b'{"Functions": [{"FunctionName": "f", "MemorySize": 128}]}'),
    "query": ("sns", "ListTopics", b'<ListTopicsResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/">'
              b"<ListTopicsResult><Topics><member><TopicArn>arn:aws:sns:us-east-1:123456789012:t</TopicArn>"
              b"</member></Topics></ListTopicsResult><ResponseMetadata><RequestId>r</RequestId>"
              b"</ResponseMetadata></ListTopicsResponse>"),
    "ec2": ("ec2", "DescribeSecurityGroups", b'<DescribeSecurityGroupsResponse xmlns="http://ec2.amazonaws.com/'
            b'doc/2016-11-15/"><requestId>r</requestId><securityGroupInfo><item><groupId>sg-1</groupId></item>'
            b"</securityGroupInfo></DescribeSecurityGroupsResponse>"),
    "rest-xml": ("s3", "GetBucketAcl", b'<AccessControlPolicy xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
                 b"<Owner><ID>o</ID></Owner><AccessControlList/></AccessControlPolicy>"),
}

WRONG = {
    "json": b'{"Unexpected": true}',
    "rest-json": b'{"Unexpected": true}',
    "query": b"<Unexpected><Thing>1</Thing></Unexpected>",
    "ec2": b"<Unexpected><Thing>1</Thing></Unexpected>",
    "rest-xml": b"<Unexpected><Thing>1</Thing></Unexpected>",
}


@pytest.mark.parametrize("protocol", sorted(GOOD))
def test_a_well_formed_answer_is_readable(protocol):
    service, operation, body = GOOD[protocol]
    assert _op(service, operation).service_model.resolved_protocol == protocol
    assert body_problem(_op(service, operation), body) is None


@pytest.mark.parametrize("shape", ["cut", "empty", "html", "wrong"])
@pytest.mark.parametrize("protocol", sorted(GOOD))
def test_a_garbled_answer_is_unreadable(protocol, shape):
    service, operation, body = GOOD[protocol]
    garbled = {"cut": body[: len(body) // 2], "empty": b"", "html": HTML, "wrong": WRONG[protocol]}[shape]
    problem = body_problem(_op(service, operation), garbled)
    assert problem, f"{protocol} {shape} was taken for an answer"


@pytest.mark.parametrize(("service", "operation", "body", "why"), [
    ("sqs", "ListQueues", b'{"QueueUrls": "https://not-a-list"}', "the model says list"),
    ("sqs", "ListQueues", b"[]", "a JSON list where an object was expected"),
    ("kms", "ListKeys", b'{"Keys": {"KeyId": "k"}}', "Keys is a JSON dict, the model says list"),
    ("kms", "ListKeys", b'{"Keys": [{"KeyId": {"Id": "k"}}]}', "Keys[0].KeyId is a JSON dict"),
    ("lambda", "ListFunctions", b'{"Functions": ["f"]}', "Functions[0] is a JSON str, the model says"),
    ("sqs", "GetQueueAttributes", b'{"message": "<html>"}', "none of the answer's members"),
    ("sns", "ListTopics", b"<ListTopicsResponse><Other/></ListTopicsResponse>", "no <ListTopicsResult>"),
    ("ec2", "DescribeSecurityGroups",
     b"<DescribeSecurityGroupsResponse><foo/></DescribeSecurityGroupsResponse>",
     "none of the answer's members"),
])
def test_wrong_shapes_are_named(service, operation, body, why):
    assert why in (body_problem(_op(service, operation), body) or "")


@pytest.mark.parametrize(("service", "operation", "body"), [
    ("sqs", "ListQueues", b"{}"),  # what AWS sends when a region has no queue
    ("sqs", "ListQueues", b'{"QueueUrls": [], "SomeFieldAwsAddsLater": 1}'),
    ("lambda", "ListFunctions", b'{"Functions": [{"MemorySize": "128", "Timeout": 3.0}]}'),  # scalars pass
    ("sqs", "DeleteQueue", b""),  # no output members: nothing to read
    ("s3", "GetBucketVersioning", b'<VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"/>'),
    ("s3", "GetBucketLogging", b'<BucketLoggingStatus xmlns="http://s3.amazonaws.com/doc/2006-03-01/"/>'),
    ("s3", "GetBucketLocation", b"<LocationConstraint>eu-west-1</LocationConstraint>"),
    ("s3", "GetBucketPolicy", b'{"Version": "2012-10-17", "Statement": []}'),  # a raw payload
    ("ec2", "DescribeSecurityGroups", b"<DescribeSecurityGroupsResponse><requestId>r</requestId>"
     b"<securityGroupInfo/></DescribeSecurityGroupsResponse>"),
])
def test_empty_and_raw_answers_that_aws_sends_are_readable(service, operation, body):
    assert body_problem(_op(service, operation), body) is None


@pytest.mark.parametrize("body", [b'{"Version": "2012-10-17", "Statement": [', b"", HTML,
                                  b'{"Unexpected": true}', b"<Error><Code>x</Code></Error>"])
def test_a_bucket_policy_must_be_a_policy_document(body):
    assert body_problem(_op("s3", "GetBucketPolicy"), body)


def test_every_always_returned_declaration_names_real_members():
    """A typo in a declaration would fail every read of that call; catch it here instead."""
    declared = always_returned()
    assert declared, "no technology declares the members its calls always return"
    for key, members in declared.items():
        service, operation = key.split(":")
        shape = _op(service, operation).output_shape
        assert shape is not None, key
        unknown = set(members) - set(shape.members)
        assert not unknown, f"{key}: {sorted(unknown)} are not output members of {operation}"
    technologies = all_technologies().values()
    assert all(any(key in t.always_returned for t in technologies) for key in declared)


# --- clients against a real HTTP server ------------------------------------------------------------


class _Server:
    """A local endpoint whose answers a test scripts: each request pops the next answer."""

    def __init__(self, answer: Callable[[int], tuple[int, str, bytes] | None]) -> None:
        self.requests: list[str] = []
        self.release = threading.Event()
        server_self = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                server_self.requests.append(self.headers.get("X-Amz-Target") or self.path)
                reply = answer(len(server_self.requests))
                if reply is None:  # accept, never answer (until the test ends)
                    server_self.release.wait(30)
                    return
                status, content_type, body = reply
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"


@contextmanager
def _serving(answer: Callable[[int], tuple[int, str, bytes] | None]) -> Iterator[_Server]:
    server = _Server(answer)
    thread = threading.Thread(target=server.httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.release.set()
        server.httpd.shutdown()
        server.httpd.server_close()


def _session(url: str, **kwargs) -> AccountSession:
    return AccountSession(AccountConfig(name="t", id="123456789012", endpoint_url=url), **kwargs)


JSON = "application/x-amz-json-1.0"
QUEUES = json.dumps({"QueueUrls": ["https://sqs.us-east-1.amazonaws.com/123456789012/orders"]}).encode()
THROTTLED = (400, JSON, b'{"__type": "com.amazonaws.sqs#ThrottlingException", "message": "slow down"}')


@pytest.fixture(autouse=True)
def _no_backoff(monkeypatch):
    """Unreadable answers are retried as in production, without the random backoff sleep."""
    monkeypatch.setattr("gitmonkey.read.aws_responses.random.uniform", lambda a, b: 0.0)


def test_a_garbled_answer_is_retried_then_read():
    answers = {1: (200, JSON, QUEUES[: len(QUEUES) // 2]), 2: (200, JSON, QUEUES)}
    with _serving(answers.get) as server:
        sqs = _session(server.url, max_attempts=3).client("sqs", "us-east-1")
        assert sqs.list_queues()["QueueUrls"] == ["https://sqs.us-east-1.amazonaws.com/123456789012/orders"]
    assert server.requests == ["AmazonSQS.ListQueues"] * 2


@pytest.mark.parametrize("attempts", [1, 2, 4])
def test_an_answer_garbled_on_every_attempt_raises_after_max_attempts(attempts):
    with _serving(lambda n: (200, "text/html", HTML)) as server:
        sqs = _session(server.url, max_attempts=attempts).client("sqs", "us-east-1")
        with pytest.raises(UnreadableResponseError, match=r"sqs ListQueues: unreadable answer \(not JSON"):
            sqs.list_queues()
    assert len(server.requests) == attempts


@pytest.mark.parametrize("attempts", [1, 3])
def test_max_attempts_counts_attempts_not_retries(attempts):
    """botocore's own max_attempts counts retries: 1 would still retry once."""
    with _serving(lambda n: THROTTLED) as server:
        sqs = _session(server.url, max_attempts=attempts).client("sqs", "us-east-1")
        with pytest.raises(ClientError, match="ThrottlingException"):
            sqs.list_queues()
    assert len(server.requests) == attempts


def test_a_member_the_call_always_returns_must_be_there():
    declared = {"sqs:GetQueueAttributes": ("Attributes",)}
    with _serving(lambda n: (200, JSON, b"{}")) as server:
        session = _session(server.url, max_attempts=1, always_returned=declared)
        with pytest.raises(UnreadableResponseError, match="no Attributes in the answer"):
            session.client("sqs", "us-east-1").get_queue_attributes(QueueUrl=f"{server.url}/q")
        assert "QueueUrls" not in session.client("sqs", "us-east-1").list_queues()  # {}: no queue


def test_an_endpoint_that_never_answers_is_given_up_once_per_session():
    with _serving(lambda n: None) as server:
        session = _session(server.url, max_attempts=2, read_timeout=0.3, connect_timeout=0.3)
        sqs = session.client("sqs", "us-east-1")
        with pytest.raises(ReadTimeoutError):
            sqs.list_queues()
        assert len(server.requests) == 2
        with pytest.raises(EndpointUnresponsiveError, match="timed out on every attempt"):
            session.client("kms", "us-east-1").list_keys()
        with pytest.raises(EndpointUnresponsiveError):
            sqs.list_queues()
        assert len(server.requests) == 2, "calls to an endpoint given up on must not reach it"
        fresh = _session(server.url, max_attempts=1, read_timeout=0.3, connect_timeout=0.3)
        with pytest.raises(ReadTimeoutError):
            fresh.client("sqs", "us-east-1").list_queues()
        assert len(server.requests) == 3, "a new session (the next sync) tries the endpoint again"

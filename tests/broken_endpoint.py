"""A broken endpoint for tests: an HTTP proxy on 127.0.0.1 in front of a moto server that
answers chosen AWS operations with ``200 OK`` and a garbled body, as a proxy or a TLS-inspecting
middlebox may do.

The proxy forwards every request to the moto server and records, for each one, the botocore
service and operation it was (``sqs:ListQueues``), found generically from the request: the
service from the SigV4 credential scope, the operation from ``X-Amz-Target`` (JSON protocol),
the ``Action`` parameter (query and ec2 protocols) or the method, path and query string matched
against the service model's ``requestUri`` templates (rest-json, rest-xml). A ``garble`` rule
replaces the body of the matching 2xx responses with one of ``SHAPES``:

- ``cut``: the first half of the real body;
- ``empty``: no body at all;
- ``html``: a middlebox's HTML error page (``Content-Type: text/html``);
- ``wrong``: a well-formed document of the wrong shape (``{"Unexpected": true}`` for JSON
  protocols, ``<Unexpected><Thing>1</Thing></Unexpected>`` for XML ones);
- ``wrong-list``: for JSON protocols, ``[]`` (XML protocols have no such shape, see
  ``shapes_for``).

Content-Length is fixed, and Content-Encoding and checksum headers (``x-amz-crc32``,
``x-amz-checksum-*``, ``Content-MD5``), which would no longer match the body, are dropped, as a
middlebox rewriting the body would do.

Where moto does not implement a call, or answers it unlike AWS, ``answer`` makes the proxy answer
the call itself with a given body (garble rules apply to it too).

Only 127.0.0.1 is ever contacted.
"""

from __future__ import annotations

import http.client
import logging
import re
import socket
import threading
import urllib.parse
import urllib.request
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import botocore.session

LOCALHOST = "127.0.0.1"
SHAPES = ("cut", "empty", "html", "wrong", "wrong-list")
JSON_PROTOCOLS = frozenset({"json", "rest-json"})
XML_PROTOCOLS = frozenset({"query", "ec2", "rest-xml"})
HTML_PAGE = (
    b"<html><head><title>Gateway</title></head><body><h1>502 Bad Gateway</h1>"
    b"<p>The upstream server sent an invalid response.</p></body></html>"
)
WRONG_JSON = b'{"Unexpected": true}'
WRONG_JSON_LIST = b"[]"
WRONG_XML = b"<Unexpected><Thing>1</Thing></Unexpected>"
# Hop-by-hop headers, and headers that describe a body the proxy may have replaced.
_HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "proxy-connection", "proxy-authenticate", "proxy-authorization", "te",
     "trailer", "transfer-encoding", "upgrade", "expect", "content-length"}
)
_BODY_BOUND = frozenset({"content-encoding", "content-md5", "x-amz-crc32", "x-amz-crc32c"})
_CREDENTIAL_SCOPE = re.compile(r"Credential=[^/,\s]+/\d{8}/([^/,\s]+)/([^/,\s]+)/aws4_request")


def watcher_services() -> tuple[str, ...]:
    """The botocore services of every watcher (a watcher module is named after its service), and
    STS (assumed roles): the services the proxy knows by default."""
    from gitmonkey.watchers import all_technologies

    return tuple(sorted({tech.service for tech in all_technologies().values()} | {"sts"}))


def shapes_for(protocol: str) -> tuple[str, ...]:
    """The garbling shapes that make sense for a botocore protocol."""
    if protocol in JSON_PROTOCOLS:
        return SHAPES
    return tuple(s for s in SHAPES if s != "wrong-list")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOCALHOST, 0))
        return sock.getsockname()[1]


# --- which operation a request is -------------------------------------------------------------


def _signing_name(model: Any) -> str:
    return model.metadata.get("signingName") or model.metadata["endpointPrefix"]


def _protocol(model: Any) -> str:
    """The protocol clients speak (a model may list several: directconnect's CBOR, then JSON)."""
    return getattr(model, "resolved_protocol", None) or model.protocol


@dataclass(frozen=True)
class _RestRoute:
    service: str
    operation: str
    method: str
    path: re.Pattern[str]
    query: tuple[tuple[str, str | None], ...]  # (key, value or None for "any value")
    literal: int  # literal characters of the path template: the more, the more specific
    deprecated: bool  # S3's GetBucketLifecycle shares its route with GetBucketLifecycleConfiguration

    def matches(self, method: str, path: str, query: dict[str, list[str]]) -> bool:
        if method != self.method or not self.path.fullmatch(path):
            return False
        for key, value in self.query:
            if key not in query or (value is not None and value not in query[key]):
                return False
        return True


def _rest_route(service: str, operation: str, http: dict[str, Any], deprecated: bool) -> _RestRoute:
    template = http["requestUri"]
    path_template, _, query_template = template.partition("?")
    pattern, literal = "", 0
    for piece in re.split(r"(\{[^}]+\})", path_template):
        if piece.startswith("{") and piece.endswith("}"):
            pattern += ".+" if piece.endswith("+}") else "[^/]+"
        else:
            pattern += re.escape(piece)
            literal += len(piece)
    pattern = pattern.rstrip("/") if pattern != "/" else pattern
    query: list[tuple[str, str | None]] = []
    for part in filter(None, query_template.split("&")):
        key, sep, value = part.partition("=")
        query.append((key, value if sep and "{" not in value else None))
    return _RestRoute(
        service, operation, http["method"], re.compile(pattern), tuple(query), literal, deprecated
    )


class OperationIndex:
    """Finds the botocore (service, operation) of a SigV4-signed request to one of ``services``
    (default: ``watcher_services()``; a service signing with its own name is found anyway)."""

    def __init__(self, services: Iterable[str] | None = None) -> None:
        self._session = botocore.session.get_session()
        self._services = tuple(services) if services is not None else None
        self._by_scope: dict[str, list[Any]] | None = None
        self._routes: dict[str, list[_RestRoute]] = {}
        self._scanned: set[str] = set()
        self._lock = threading.Lock()

    def _models(self, scope: str) -> list[Any]:
        """The models of the services signing with ``scope``: the known services first, then the
        others named like it (a watcher may use a service its module is not named after: ``ses``
        reads through ``sesv2``)."""
        with self._lock:
            if self._by_scope is None:
                by_scope: dict[str, list[Any]] = {}
                for name in self._services if self._services is not None else watcher_services():
                    model = self._session.get_service_model(name)
                    by_scope.setdefault(_signing_name(model), []).append(model)
                self._by_scope = by_scope
            if scope not in self._scanned:
                self._scanned.add(scope)
                models = self._by_scope.setdefault(scope, [])
                known = {model.service_name for model in models}
                for name in self._session.get_available_services():
                    if name.startswith(scope) and name not in known:
                        model = self._session.get_service_model(name)
                        if _signing_name(model) == scope:
                            models.append(model)
            return self._by_scope[scope]

    def protocol(self, service: str) -> str:
        return _protocol(self._session.get_service_model(service))

    def _rest_routes(self, model: Any) -> list[_RestRoute]:
        with self._lock:
            routes = self._routes.get(model.service_name)
            if routes is None:
                routes = []
                for name in model.operation_names:
                    operation = model.operation_model(name)
                    routes.append(_rest_route(model.service_name, name, operation.http, operation.deprecated))
                self._routes[model.service_name] = routes
            return routes

    def identify(self, method: str, target: str, headers: Any, body: bytes) -> tuple[str, str]:
        """``(service, operation)``; ``"?"`` for what cannot be told (unsigned, unknown service)."""
        scope = _CREDENTIAL_SCOPE.search(headers.get("Authorization", "") or "")
        if scope is None:
            return "?", "?"
        signing_name = scope.group(2)
        found = self._identify(self._models(signing_name), method, target, headers, body)
        return found or (signing_name, "?")

    def _identify(
        self, models: list[Any], method: str, target: str, headers: Any, body: bytes
    ) -> tuple[str, str] | None:
        split = urllib.parse.urlsplit(target)
        query = urllib.parse.parse_qs(split.query, keep_blank_values=True)
        amz_target = headers.get("X-Amz-Target")
        form: dict[str, list[str]] | None = None
        rest: list[tuple[Any, Any]] = []
        for model in models:
            protocol = _protocol(model)
            if protocol == "json" and amz_target:
                prefix, _, operation = amz_target.rpartition(".")
                if prefix == model.metadata.get("targetPrefix") and operation in model.operation_names:
                    return model.service_name, operation
            elif protocol in ("query", "ec2"):
                if form is None:
                    form = dict(query)
                    content_type = headers.get("Content-Type", "") or ""
                    if body and "x-www-form-urlencoded" in content_type:
                        form.update(urllib.parse.parse_qs(body.decode("utf-8", "replace"),
                                                          keep_blank_values=True))
                action = (form.get("Action") or [""])[0]
                version = (form.get("Version") or [""])[0]
                if action in model.operation_names and version in ("", model.api_version):
                    return model.service_name, action
            elif protocol in ("rest-json", "rest-xml"):
                path = split.path.rstrip("/") or "/"
                rest += [(model, r) for r in self._rest_routes(model) if r.matches(method, path, query)]
        if rest:
            # Across the services that sign alike (s3 and s3control), the most specific route wins.
            model, best = max(rest, key=lambda mr: (len(mr[1].query), mr[1].literal, not mr[1].deprecated))
            return model.service_name, best.operation
        return None


# --- the proxy ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Served:
    """One request the proxy served."""

    service: str
    operation: str
    region: str
    method: str
    path: str
    status: int
    garbled: str | None  # the shape, when the response was garbled

    @property
    def name(self) -> str:
        return f"{self.service}:{self.operation}"

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


@dataclass
class Garble:
    """Garble the 2xx responses of ``operation`` (``Op`` or ``service:Op``) with ``shape``;
    ``times`` limits it to the first N of them (``None``: every one)."""

    operation: str
    shape: str
    times: int | None = None
    done: int = 0

    def wants(self, service: str, operation: str) -> bool:
        if self.times is not None and self.done >= self.times:
            return False
        wanted_service, _, wanted_operation = self.operation.rpartition(":")
        return operation == wanted_operation and wanted_service in ("", service)


def garbled_body(shape: str, protocol: str, body: bytes) -> tuple[bytes, str | None]:
    """The body and Content-Type (``None``: keep the real one) that replace ``body``."""
    if shape == "cut":
        return body[: len(body) // 2], None
    if shape == "empty":
        return b"", None
    if shape == "html":
        return HTML_PAGE, "text/html; charset=utf-8"
    if shape == "wrong":
        return (WRONG_JSON, None) if protocol in JSON_PROTOCOLS else (WRONG_XML, "text/xml")
    if shape == "wrong-list":
        if protocol not in JSON_PROTOCOLS:
            raise ValueError(f"shape 'wrong-list' is for JSON protocols, not {protocol}")
        return WRONG_JSON_LIST, None
    raise ValueError(f"unknown shape {shape!r}; known: {', '.join(SHAPES)}")


class BrokenEndpoint:
    """The proxy: ``url`` is what clients use as ``endpoint_url``; ``upstream`` is the moto server."""

    def __init__(self, upstream: str, services: Iterable[str] | None = None) -> None:
        parts = urllib.parse.urlsplit(upstream)
        if parts.hostname != LOCALHOST:
            raise ValueError(f"the upstream must be on {LOCALHOST}, not {parts.hostname}")
        self.upstream = upstream
        self._upstream_port = parts.port or 80
        self.index = OperationIndex(services)
        self._lock = threading.Lock()
        self._served: list[Served] = []
        self._rules: list[Garble] = []
        self._answers: dict[str, tuple[int, bytes, str]] = {}
        self._server = ThreadingHTTPServer((LOCALHOST, 0), _handler_for(self))
        self._server.daemon_threads = True
        self.url = f"http://{LOCALHOST}:{self._server.server_address[1]}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="broken-endpoint", daemon=True
        )

    # lifecycle

    def start(self) -> BrokenEndpoint:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    # rules and records

    def garble(self, operation: str, shape: str, *, times: int | None = None) -> Garble:
        if shape not in SHAPES:
            raise ValueError(f"unknown shape {shape!r}; known: {', '.join(SHAPES)}")
        rule = Garble(operation, shape, times)
        with self._lock:
            self._rules.append(rule)
        return rule

    def answer(self, operation: str, body: bytes, *, status: int = 200, content_type: str = "") -> None:
        """Answer ``operation`` (``service:Operation``) with ``body`` instead of forwarding it: for
        calls moto does not implement, or answers unlike AWS. Garble rules apply to it as to moto's
        answers. ``content_type`` defaults to the protocol's (JSON or XML)."""
        if not content_type:
            json_like = self.index.protocol(operation.split(":", 1)[0]) in JSON_PROTOCOLS
            content_type = "application/json" if json_like else "text/xml"
        with self._lock:
            self._answers[operation] = (status, body, content_type)

    def clear(self) -> None:
        """Forget the rules, the stand-in answers and the record of served requests."""
        with self._lock:
            self._rules.clear()
            self._answers.clear()
            self._served.clear()

    @property
    def served(self) -> list[Served]:
        with self._lock:
            return list(self._served)

    def operations(self, *, ok_only: bool = True) -> list[str]:
        """``service:Operation`` of the requests served (2xx ones only by default), first seen first."""
        return list(dict.fromkeys(s.name for s in self.served if s.ok or not ok_only))

    def garbled(self, operation: str | None = None) -> list[Served]:
        return [
            s for s in self.served
            if s.garbled and (operation is None or operation in (s.operation, s.name))
        ]

    # the work

    def _upstream(
        self, method: str, target: str, headers: Any, body: bytes
    ) -> tuple[int, str, list[tuple[str, str]], bytes]:
        connection = http.client.HTTPConnection(LOCALHOST, self._upstream_port, timeout=60)
        try:
            sent = {k: v for k, v in headers.items() if k.lower() not in _HOP_BY_HOP}
            payload = body if body or method in ("POST", "PUT", "PATCH") else None
            connection.request(method, target, body=payload, headers=sent)
            response = connection.getresponse()
            real_body = response.read()
            real_headers = [(k, v) for k, v in response.getheaders() if k.lower() not in _HOP_BY_HOP]
            return response.status, response.reason, real_headers, real_body
        finally:
            connection.close()

    def _rule_for(self, service: str, operation: str) -> Garble | None:
        with self._lock:
            for rule in self._rules:
                if rule.wants(service, operation):
                    rule.done += 1
                    return rule
        return None

    def _record(self, served: Served) -> None:
        with self._lock:
            self._served.append(served)

    def forward(
        self, method: str, target: str, headers: Any, body: bytes
    ) -> tuple[int, str, list[tuple[str, str]], bytes]:
        """The answer to one request (status, reason, headers, body): moto's, or the stand-in
        answer set for its operation; garbled when a rule says so."""
        service, operation = self.index.identify(method, target, headers, body)
        scope = _CREDENTIAL_SCOPE.search(headers.get("Authorization", "") or "")
        region = scope.group(1) if scope else "?"
        with self._lock:
            stand_in = self._answers.get(f"{service}:{operation}")
        if stand_in is not None:
            status, reason = stand_in[0], "OK"
            real_body = stand_in[1]
            real_headers = [("Content-Type", stand_in[2]), ("x-amzn-RequestId", "broken-endpoint")]
        else:
            status, reason, real_headers, real_body = self._upstream(method, target, headers, body)
        shape = None
        out_body, out_headers = real_body, real_headers
        if 200 <= status < 300 and method != "HEAD":
            rule = self._rule_for(service, operation)
            if rule is not None:
                protocol = self.index.protocol(service)
                out_body, content_type = garbled_body(rule.shape, protocol, real_body)
                out_headers = [
                    (k, v) for k, v in real_headers
                    if k.lower() not in _BODY_BOUND and not k.lower().startswith("x-amz-checksum-")
                    and not (content_type and k.lower() == "content-type")
                ]
                if content_type:
                    out_headers.append(("Content-Type", content_type))
                shape = rule.shape
        path = urllib.parse.urlsplit(target).path
        self._record(Served(service, operation, region, method, path, status, shape))
        return status, reason, out_headers, out_body


def _handler_for(endpoint: BrokenEndpoint) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def _body(self) -> bytes:
            if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
                chunks = []
                while True:
                    size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                    if size == 0:
                        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                            pass
                        return b"".join(chunks)
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline()
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else b""

        def _serve(self) -> None:
            body = self._body()
            try:
                status, reason, headers, out = endpoint.forward(self.command, self.path, self.headers, body)
            except Exception as exc:  # the upstream is down: say so, as a gateway would
                message = f"broken endpoint: {type(exc).__name__}: {exc}".encode()
                status, reason, headers, out = 502, "Bad Gateway", [("Content-Type", "text/plain")], message
            self.send_response(status, reason)
            for key, value in headers:
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(out)

        do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = _serve

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


# --- a moto server and the proxy in front of it -----------------------------------------------


@dataclass
class MotoServer:
    """A moto server on 127.0.0.1 (``ThreadedMotoServer``) and what it was last seeded with."""

    url: str
    server: Any
    seeded: Any = None  # for the tests' own bookkeeping; ``reset`` forgets it
    generation: int = 0  # how many times it was reset

    def reset(self) -> None:
        request = urllib.request.Request(f"{self.url}/moto-api/reset", method="POST")  # noqa: S310 (127.0.0.1)
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            response.read()
        self.seeded = None
        self.generation += 1


@contextmanager
def moto_server() -> Iterator[MotoServer]:
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
    port = free_port()
    server = ThreadedMotoServer(ip_address=LOCALHOST, port=port, verbose=False)
    server.start()
    try:
        yield MotoServer(f"http://{LOCALHOST}:{port}", server)
    finally:
        server.stop()


@contextmanager
def broken_endpoint(upstream: str, services: Iterable[str] | None = None) -> Iterator[BrokenEndpoint]:
    endpoint = BrokenEndpoint(upstream, services).start()
    try:
        yield endpoint
    finally:
        endpoint.stop()

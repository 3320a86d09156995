"""An AWS answer gitmonkey cannot read is a failed call, never "nothing there".

botocore trusts a 2xx body. Its JSON parser turns a body that is not JSON into
``{"message": body}`` (``{}`` when empty), its XML parsers turn a well-formed document of the
wrong shape (an HTML page from a proxy) into ``{}``, and its REST-XML parser reads an empty
body as an answer without members. A watcher then sees an empty listing (items recorded as
deleted) or an item without its policy (recorded as modified). Security Monkey had the same
blind spot.

:class:`ResponseChecks` is connected to the events of every client gitmonkey makes:

- ``before-parse``: the raw 2xx body must be what the operation's protocol sends: a JSON
  object for JSON and REST-JSON (with members typed as the model says), an XML document whose
  root is ``<OperationResponse>`` (query, EC2), or for REST-XML one whose root or children the
  model knows. A body that is not is replaced by an empty well-formed one (so the parser
  cannot crash or invent values) and marked.
- ``needs-retry``: a marked answer, or one that lacks a member AWS always returns (those that
  watchers declare in ``Technology.always_returned``), is retried with backoff within the call's
  attempts, like a 5xx. botocore's ``required`` output members are not used: some models mark
  members required that the service omits (Route 53 ListHostedZones' ``Marker`` on a first page).
- ``after-call``: if the last attempt was still unreadable, the call raises
  :class:`UnreadableResponseError`: the slice fails and keeps its files.

"Absent" can then only come from AWS saying so: an error code, or a well-formed answer.
"""

from __future__ import annotations

import json
import random
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping
from typing import Any

_MARK = "__gitmonkey_unreadable__"
_CONTEXT_KEY = "gitmonkey_unreadable"
MAX_BACKOFF_SECONDS = 20.0

# REST-XML answers whose root element botocore's model does not name (S3 documents them).
# Without the root name, an empty answer (logging or versioning never configured) could not be
# told from a well-formed document of the wrong shape.
REST_XML_ROOTS: dict[tuple[str, str], str] = {
    ("s3", "GetBucketLogging"): "BucketLoggingStatus",
    ("s3", "GetBucketVersioning"): "VersioningConfiguration",
    ("s3", "GetBucketAcl"): "AccessControlPolicy",
    ("s3", "ListBuckets"): "ListAllMyBucketsResult",
    ("s3", "GetBucketTagging"): "Tagging",
    ("s3", "GetBucketWebsite"): "WebsiteConfiguration",
    ("s3", "GetBucketLocation"): "LocationConstraint",
}


# Raw payloads that are JSON documents: botocore hands the body over as a string, so a cut body
# or an HTML page would reach the watcher as "the policy".
JSON_PAYLOADS: frozenset[tuple[str, str]] = frozenset({
    ("s3", "GetBucketPolicy"),
})


class UnreadableResponseError(Exception):
    """AWS (or something between gitmonkey and AWS) answered 2xx with a body that is not an
    answer to the call: cut, empty, an HTML page, or a document of the wrong shape."""

    def __init__(self, service: str, operation: str, reason: str) -> None:
        super().__init__(f"{service} {operation}: unreadable answer ({reason})")
        self.service = service
        self.operation = operation
        self.reason = reason


class ResponseChecks:
    """The handlers for one client; ``max_attempts`` counts attempts (1 = no retry)."""

    def __init__(self, max_attempts: int, always_returned: Mapping[str, Iterable[str]] | None = None) -> None:
        self.max_attempts = max(1, max_attempts)
        self._always = {key: tuple(names) for key, names in (always_returned or {}).items()}

    def register(self, events: Any) -> None:
        events.register("before-parse.*.*", self.before_parse)
        events.register("needs-retry.*.*", self.needs_retry)
        events.register("after-call.*.*", self.after_call)

    def before_parse(self, operation_model: Any, response_dict: dict[str, Any],
                     customized_response_dict: dict[str, Any], **_: Any) -> None:
        if not 200 <= response_dict.get("status_code", 0) < 300:
            return
        reason = body_problem(operation_model, response_dict.get("body") or b"")
        if reason is not None:
            response_dict["body"] = _stand_in(operation_model)
            customized_response_dict[_MARK] = reason

    def needs_retry(self, response: Any, operation: Any, attempts: int, request_dict: dict[str, Any],
                    **_: Any) -> float | None:
        if response is None:
            return None
        http_response, parsed = response
        context = request_dict.get("context")
        if context is None or not 200 <= http_response.status_code < 300:
            return None
        reason = parsed.pop(_MARK, None) or self._missing_members(operation, parsed)
        if reason is None:
            context.pop(_CONTEXT_KEY, None)
            return None
        context[_CONTEXT_KEY] = reason
        if attempts >= self.max_attempts:
            return None
        return random.uniform(0, min(MAX_BACKOFF_SECONDS, 2.0 ** (attempts - 1)))  # noqa: S311 (jitter)

    def after_call(self, model: Any, parsed: Any, context: dict[str, Any], **_: Any) -> None:
        reason = context.pop(_CONTEXT_KEY, None)
        if isinstance(parsed, dict):
            reason = parsed.pop(_MARK, None) or reason
        if reason is not None:
            raise UnreadableResponseError(model.service_model.service_name, model.name, reason)

    def _missing_members(self, operation: Any, parsed: Mapping[str, Any]) -> str | None:
        shape = operation.output_shape
        if shape is None or operation.has_streaming_output:
            return None
        key = f"{operation.service_model.service_name}:{operation.name}"
        missing = [name for name in self._always.get(key, ()) if name not in parsed]
        if missing:
            return f"no {', '.join(sorted(set(missing)))} in the answer"
        return None


def body_problem(operation_model: Any, body: bytes) -> str | None:
    """Why a 2xx ``body`` is not an answer to ``operation_model``'s call, or None if it is."""
    shape = operation_model.output_shape
    if shape is None or operation_model.has_streaming_output:
        return None
    protocol = operation_model.service_model.resolved_protocol
    if protocol == "json":
        return _json_problem(body, shape)
    if protocol == "rest-json":
        body_shape = _rest_body_shape(shape)
        return None if body_shape is None else _json_problem(body, body_shape)
    if protocol in ("query", "ec2"):
        return _rpc_xml_problem(operation_model, body, shape, protocol)
    if protocol == "rest-xml":
        if (operation_model.service_model.service_name, operation_model.name) in JSON_PAYLOADS:
            return _json_document_problem(body)
        return _rest_xml_problem(operation_model, body, shape)
    return None


def _json_document_problem(body: bytes) -> str | None:
    value, problem = _load_json(body)
    if problem is not None:
        return problem
    if not isinstance(value, dict) or "Statement" not in value:
        return f"not a policy document: {_excerpt(body.strip())}"
    return None


def _load_json(body: bytes) -> tuple[Any, str | None]:
    text = body.strip()
    if not text:
        return None, "empty body"
    try:
        return json.loads(text), None
    except (ValueError, UnicodeDecodeError):
        return None, f"not JSON: {_excerpt(text)}"


def _rest_body_shape(shape: Any) -> Any | None:
    """The shape a REST answer's body carries: its structure payload, or the output shape when
    members are in the body. None for a raw payload (a policy string) or header-only answers."""
    payload = shape.serialization.get("payload")
    if payload is not None:
        member = shape.members[payload]
        return member if member.type_name == "structure" else None
    if any("location" not in m.serialization for m in shape.members.values()):
        return shape
    return None


def _json_problem(body: bytes, shape: Any) -> str | None:
    value, problem = _load_json(body)
    if problem is not None:
        return problem
    text = body.strip()
    if not isinstance(value, dict):
        return f"a JSON {type(value).__name__} where an object was expected"
    known = _serialized_members(shape)
    if value and not any(name in known for name in value):
        return f"none of the answer's members in {_excerpt(text)}"
    return _json_type_problem(shape, value, "")


def _serialized_members(shape: Any) -> dict[str, Any]:
    return {member.serialization.get("name", name): member for name, member in shape.members.items()
            if "location" not in member.serialization}


# Only the containers are checked: botocore iterates a string given for a list into characters
# and fails on a list given for a structure, whereas a scalar of another JSON type (a number
# where the model says string) passes through as it came, and services do send those.
_CONTAINERS: dict[str, type] = {"list": list, "map": dict, "structure": dict}


def _json_type_problem(shape: Any, value: Any, where: str) -> str | None:
    if value is None or getattr(shape, "is_document_type", False):
        return None
    kind = shape.type_name
    container = _CONTAINERS.get(kind)
    if (not isinstance(value, container)) if container else isinstance(value, dict | list):
        return f"{where or 'the answer'} is a JSON {type(value).__name__}, the model says {kind}"
    if kind == "structure":
        members = _serialized_members(shape)
        for name, item in value.items():
            member = members.get(name)
            if member is not None:
                problem = _json_type_problem(member, item, f"{where}.{name}" if where else name)
                if problem:
                    return problem
    elif kind == "list":
        for index, item in enumerate(value):
            problem = _json_type_problem(shape.member, item, f"{where}[{index}]")
            if problem:
                return problem
    elif kind == "map":
        for name, item in value.items():
            problem = _json_type_problem(shape.value, item, f"{where}.{name}")
            if problem:
                return problem
    return None


def _parse_xml(body: bytes) -> tuple[ET.Element | None, str | None]:
    text = body.strip()
    if not text:
        return None, "empty body"
    try:
        # The same expat parser botocore uses on the same bytes right after this check.
        return ET.fromstring(text), None  # noqa: S314
    except ET.ParseError as exc:
        return None, f"not XML ({exc}): {_excerpt(text)}"


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _xml_names(shape: Any) -> set[str]:
    names = set()
    for name, member in shape.members.items():
        if "location" in member.serialization:
            continue
        names.add(member.serialization.get("name", name))
        names.add(name)
        if member.type_name == "list" and member.serialization.get("flattened"):
            names.add(member.member.serialization.get("name", name))
    return names


def _rpc_xml_problem(operation_model: Any, body: bytes, shape: Any, protocol: str) -> str | None:
    root, problem = _parse_xml(body)
    if root is None:
        return problem
    expected = f"{operation_model.name}Response"
    if _local(root.tag) != expected:
        return f"<{_local(root.tag)}> where <{expected}> was expected"
    container: ET.Element | None = root
    wrapper = shape.serialization.get("resultWrapper")
    if protocol == "query" and wrapper:
        container = next((child for child in root if _local(child.tag) == wrapper), None)
        if container is None:
            return f"no <{wrapper}> in the answer"
    children = {_local(child.tag) for child in container} - {"requestId", "ResponseMetadata"}
    if children and not children & _xml_names(shape):
        return f"none of the answer's members in <{_local(container.tag)}>"
    return None


def _rest_xml_problem(operation_model: Any, body: bytes, shape: Any) -> str | None:
    body_shape = _rest_body_shape(shape)
    if body_shape is None:
        return None
    root, problem = _parse_xml(body)
    if root is None:
        return problem
    name = _local(root.tag)
    operation = operation_model.name
    roots = {
        REST_XML_ROOTS.get((operation_model.service_model.service_name, operation)),
        f"{operation}Response",  # what moto's serialiser writes
        f"{operation}Result",
        body_shape.name,
        body_shape.serialization.get("name"),
        *_xml_names(shape),
    }
    if name in roots or any(_local(child.tag) in _xml_names(body_shape) for child in root):
        return None
    return f"<{name}> is not an answer to {operation}"


def _stand_in(operation_model: Any) -> bytes:
    """An empty, well-formed answer: the parser reads it without crashing or inventing values."""
    protocol = operation_model.service_model.resolved_protocol
    if protocol in ("json", "rest-json"):
        return b"{}"
    if protocol in ("query", "ec2"):
        wrapper = operation_model.output_shape.serialization.get("resultWrapper")
        inner = f"<{wrapper}/>" if protocol == "query" and wrapper else ""
        return f"<{operation_model.name}Response>{inner}</{operation_model.name}Response>".encode()
    return b""


def _excerpt(text: bytes) -> str:
    snippet = text[:60].decode("utf-8", "replace")
    printable = "".join(c if c.isprintable() else " " for c in snippet)
    return repr(printable + ("..." if len(text) > 60 else ""))

"""Helpers shared by the watcher modules: AWS error codes, paging, per-item reads, tags, names,
ARNs and policy documents."""

from __future__ import annotations

import functools
import json
import urllib.parse
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, TypeVar

import botocore.loaders
import botocore.session
from botocore.exceptions import ClientError
from botocore.parsers import ResponseParserError

from gitmonkey.model import GLOBAL_REGION, Item

if TYPE_CHECKING:
    from gitmonkey.read.aws import SliceContext

T = TypeVar("T")


class TruncatedListError(RuntimeError):
    """AWS said a listing has more results but gave no token to fetch them."""


class PolicyDecodeError(ValueError):
    """A policy document that is neither an object nor (URL-encoded) JSON."""


def error_code(exc: BaseException) -> str | None:
    """The AWS error code of a botocore ``ClientError``, else ``None``."""
    if isinstance(exc, ClientError):
        return exc.response.get("Error", {}).get("Code")
    return None


def is_error(exc: BaseException, *codes: str) -> bool:
    return error_code(exc) in codes


def call_or_absent(call: Callable[..., dict[str, Any]], absent_codes: Iterable[str], **params: Any) -> Any:
    """Run one API call; a "not configured" error code gives ``None`` instead of raising.

    The response comes back without ``ResponseMetadata``. Every other error propagates.
    """
    codes = tuple(absent_codes)
    try:
        response = call(**params)
    except ClientError as exc:
        if is_error(exc, *codes):
            return None
        raise
    response.pop("ResponseMetadata", None)
    return response


# Error codes by which AWS says an endpoint does not offer an operation at all (an API newer than
# the region or partition, or one a region does not support): EC2's UnsupportedOperation, the
# query protocol's InvalidAction, the JSON protocols' UnknownOperationException, S3's NotImplemented.
UNSUPPORTED_CODES = frozenset(
    {"UnsupportedOperation", "InvalidAction", "UnknownOperationException", "NotImplemented"}
)
# moto's URL-routed services (in process and as a server) answer an operation they do not emulate so.
_MOTO_NOT_IMPLEMENTED = (404, "Not yet implemented")
# moto's server answers an operation it does not emulate (NotImplementedError), or a service it has
# no backend for, with HTTP 500 and this page of werkzeug's, where AWS's own 5xx answers are AWS
# error documents (InternalError, ServiceUnavailable...).
_WERKZEUG_500 = ("<title>500 Internal Server Error</title>",
                 "The server encountered an internal error and was unable to complete your request.")


def read_if_supported(client: Any, read: Callable[[], T]) -> T | None:
    """``read()`` (calls of ``client``), or ``None`` when the endpoint says it does not implement
    or support the operation; every other failure raises, so that the slice fails and keeps its
    files.

    "Unsupported" is, and only is:

    - an AWS error code in ``UNSUPPORTED_CODES``, or HTTP 501 (Not Implemented; LocalStack's
      answer for an operation it lacks);
    - moto in process: ``NotImplementedError`` (most services), or HTTP 404 "Not yet implemented"
      (URL-routed services such as Access Analyzer);
    - moto's server: HTTP 500 with werkzeug's generic error page (botocore raises
      ``ClientError`` for JSON protocols, ``ResponseParserError`` for XML ones, as the page is not
      XML). This is honoured only from an endpoint outside AWS's domains (``endpoint_url``): from
      AWS a 5xx is a failure, whatever its body.

    AccessDenied, throttling, timeouts and AWS's 5xx raise. A caller records which settings the
    endpoint could not report instead of inventing a value for them, and rules do not fire on
    them: a newer API that a region lacks, or moto, then makes no false issue and fails no sync.
    """
    try:
        return read()
    except NotImplementedError:
        return None
    except ClientError as exc:
        if _unsupported(client, exc):
            return None
        raise
    except ResponseParserError as exc:
        if not _aws_endpoint(client) and all(part in str(exc) for part in _WERKZEUG_500):
            return None
        raise


def _unsupported(client: Any, exc: ClientError) -> bool:
    error = exc.response.get("Error", {})
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    message = error.get("Message") or ""
    if error.get("Code") in UNSUPPORTED_CODES or status == 501:
        return True
    if (status, message) == _MOTO_NOT_IMPLEMENTED:
        return True
    return status == 500 and not _aws_endpoint(client) and all(part in message for part in _WERKZEUG_500)


def _aws_endpoint(client: Any) -> bool:
    """Whether ``client`` talks to AWS itself (a host in one of botocore's partitions' domains),
    not to an ``endpoint_url`` of the configuration (a moto server, LocalStack)."""
    host = urllib.parse.urlsplit(client.meta.endpoint_url).hostname or ""
    return any(host == suffix or host.endswith(f".{suffix}") for suffix in _aws_dns_suffixes())


@functools.cache
def _aws_dns_suffixes() -> frozenset[str]:
    partitions = botocore.loaders.create_loader().load_data("partitions")["partitions"]
    suffixes = set()
    for entry in partitions:
        outputs = entry.get("outputs", {})
        suffixes.update(filter(None, (outputs.get("dnsSuffix"), outputs.get("dualStackDnsSuffix"))))
    return frozenset(suffixes)


def pages(client: Any, operation: str, **params: Any) -> list[dict[str, Any]]:
    """Every page of a paginated call, or an exception.

    botocore's paginator silently stops when a page says ``IsTruncated`` (KMS: ``Truncated``)
    but carries no marker; for a watcher that would be a partial list recorded as deletions, so
    it raises.
    """
    result = [dict(page) for page in client.get_paginator(operation).paginate(**params)]
    if result and (result[-1].get("IsTruncated") or result[-1].get("Truncated")):
        raise TruncatedListError(f"{operation}: AWS reported more results but returned no marker")
    return result


def collect(client: Any, operation: str, key: str, **params: Any) -> list[Any]:
    """The concatenated ``key`` list of every page of a paginated call."""
    out: list[Any] = []
    for page in pages(client, operation, **params):
        out.extend(page.get(key) or [])
    return out


def follow_tokens(
    call: Callable[..., dict[str, Any]], key: str, *, cursor: str = "NextToken", **params: Any
) -> list[Any]:
    """The concatenated ``key`` lists of every page of a call botocore has no paginator for,
    following its page token ``cursor`` (one name in the request and the answer). A token that
    comes back twice raises: looping for ever, or stopping there, would be a partial list."""
    out: list[Any] = []
    seen: set[str] = set()
    while True:
        page = call(**params)
        out.extend(page.get(key) or [])
        next_token = page.get(cursor)
        if not next_token:
            return out
        if next_token in seen:
            raise TruncatedListError(f"{key}: AWS returned the page token {next_token!r} twice")
        seen.add(next_token)
        params = {**params, cursor: next_token}


def describe_each(
    describe: Callable[[T], Item | None],
    entries: Iterable[T],
    *,
    workers: int = 8,
    name: str = "watcher",
    gone: Iterable[str] = (),
) -> list[Item]:
    """``describe`` every listed entry on a pool of ``workers`` threads named ``name``; the items
    in listing order.

    Per-item calls dominate a slice's time, hence the pool. ``describe`` must call
    ``ctx.client(...)`` itself, in its worker thread, so that its API calls are counted to the
    slice. An entry deleted between the listing and its describe is left out: ``describe``
    returned ``None``, or raised a ``ClientError`` whose code is in ``gone``. Any other failure
    re-raises (the first one, as ``pool.map`` does), so a partial list never escapes: it would be
    recorded as deletions.
    """
    gone_codes = tuple(gone)

    def one(entry: T) -> Item | None:
        try:
            return describe(entry)
        except ClientError as exc:
            if gone_codes and is_error(exc, *gone_codes):
                return None
            raise

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix=name) as pool:
        described = list(pool.map(one, entries))
    return [item for item in described if item is not None]


def tags_dict(tags: Iterable[Mapping[str, Any]] | None) -> dict[str, str]:
    """AWS's ``[{"Key": k, "Value": v}]`` as ``{k: v}`` (the contract's ``Tags`` shape)."""
    return {tag["Key"]: tag.get("Value", "") for tag in tags or ()}


def name_from_tags(tags: Mapping[str, str], default: str) -> str:
    """An item's name: its ``Name`` tag when set and not empty, else ``default`` (its id)."""
    return tags.get("Name") or default


def tagged_item(
    ctx: SliceContext,
    technology: str,
    item_id: str,
    arn: str,
    configuration: dict[str, Any],
    tags: Iterable[Mapping[str, Any]] | None,
    *,
    name: str | None = None,
) -> Item:
    """The item of a resource tagged EC2-style: ``tags`` (AWS's ``[{"Key", "Value"}]``) become
    ``configuration["Tags"]``, and its name is the ``Name`` tag, else ``name``, else the id."""
    configuration["Tags"] = tags_dict(tags)
    return Item(
        technology=technology,
        region=ctx.region,
        id=item_id,
        name=name_from_tags(configuration["Tags"], name or item_id),
        arn=arn,
        configuration=configuration,
    )


ACCOUNT_ITEM_ID = "account"


def posture_item(ctx: SliceContext, technology: str, configuration: dict[str, Any], arn: str = "") -> Item:
    """The one item of an account-wide setting (a global slice: id and name ``account``) or of a
    region's setting (id and name the region). It is recorded also when the setting is absent
    (``null``, ``[]``, ``false``), so an absence is an ordinary issue with a history in git."""
    item_id = ACCOUNT_ITEM_ID if ctx.region == GLOBAL_REGION else ctx.region
    return Item(technology, ctx.region, item_id, item_id, arn, configuration)


def ec2_arn(ctx: SliceContext, owner: str, resource: str) -> str:
    """The ARN of an EC2 resource (``resource`` as ``type/id``); ``owner`` is empty for snapshots
    and images, whose ARNs carry no account."""
    return f"arn:{partition(ctx.client_region)}:ec2:{ctx.region}:{owner}:{resource}"


def decode_policy(document: Any) -> Any:
    """A policy document as an object.

    botocore already decodes IAM's documents; others (S3, SNS, SQS...) arrive as JSON
    strings, and IAM's raw wire format is URL-encoded JSON.
    """
    if document is None or isinstance(document, dict | list):
        return document
    if not isinstance(document, str):
        raise PolicyDecodeError(f"policy document of unexpected type {type(document).__name__}")
    text = document.strip()
    if not text.startswith(("{", "[")):
        text = urllib.parse.unquote(text).strip()
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise PolicyDecodeError(f"policy document is not valid JSON: {exc}") from exc


@functools.cache
def partition(region: str) -> str:
    """The ARN partition of a region (``aws``, ``aws-cn``, ``aws-us-gov``...)."""
    return botocore.session.get_session().get_partition_for_region(region)

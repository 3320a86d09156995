"""Lambda watchers: functions (region-wide ListFunctions and ListEventSourceMappings; per function,
its resource policy, function URL, aliases and tags).

``lambda`` is a Python keyword, so this module is reached through the registry (``importlib``),
never by an ``import`` statement; the registry only needs the file name to equal the service.

A deploy is a configuration change: ``CodeSha256`` and ``CodeSize`` stay in history, so new code
shows up as a commit. ``LastModified`` and the ``RevisionId`` values change on every update, even
one that sets the same values, and add nothing the other fields do not say: they are ephemeral.

The function's own fields are its ListFunctions entry. One function is read again by
GetFunctionConfiguration, whose answer has the same shape plus the fields ListFunctions leaves out
(its API reference: State, StateReason, StateReasonCode, LastUpdateStatus, LastUpdateStatusReason,
LastUpdateStatusReasonCode, RuntimeVersionConfig); those are dropped on both paths, so that both
record the same document (on AWS the listing never had them; moto's listing does).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from botocore.exceptions import ClientError

from gitmonkey.model import Item, Technology
from gitmonkey.read.aws import SliceContext
from gitmonkey.watchers._common import call_or_absent, collect, decode_policy, describe_each, is_error

_NOT_FOUND = ("ResourceNotFoundException",)
_URL_FIELDS = ("FunctionUrl", "AuthType", "Cors", "InvokeMode", "CreationTime", "LastModifiedTime")
# FunctionConfiguration fields that GetFunctionConfiguration returns and ListFunctions does not.
GET_ONLY_FIELDS = frozenset({
    "State",
    "StateReason",
    "StateReasonCode",
    "LastUpdateStatus",
    "LastUpdateStatusReason",
    "LastUpdateStatusReasonCode",
    "RuntimeVersionConfig",
})
# ListEventSourceMappings' largest page: the getter reads the region's mappings in one call.
MAPPINGS_PAGE_SIZE = 10000


def _unqualified(function_arn: str) -> str:
    """``arn:aws:lambda:r:a:function:name[:alias-or-version]`` without the qualifier."""
    return ":".join(function_arn.split(":")[:7])


def _mappings_by_function(ctx: SliceContext, **params: Any) -> dict[str, list[dict[str, Any]]]:
    """The region's event source mappings by unqualified function ARN: one listing, not one per function."""
    grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
    client = ctx.client("lambda")
    for mapping in collect(client, "list_event_source_mappings", "EventSourceMappings", **params):
        grouped[_unqualified(mapping.get("FunctionArn", ""))].append(mapping)
    return grouped


def _describe(ctx: SliceContext, function: dict[str, Any], mappings: list[dict[str, Any]]) -> Item:
    """One function's item. The "absent" calls run first: a ResourceNotFoundException there means no
    policy (or no URL) but could also mean the function is gone, which the listing calls after them
    then tell apart by raising."""
    client = ctx.client("lambda")
    name = function["FunctionName"]
    arn = function["FunctionArn"]
    policy = call_or_absent(client.get_policy, _NOT_FOUND, FunctionName=name)
    url = call_or_absent(client.get_function_url_config, _NOT_FOUND, FunctionName=name)
    aliases = collect(client, "list_aliases", "Aliases", FunctionName=name)
    tags = client.list_tags(Resource=arn).get("Tags") or {}
    configuration = {
        **{key: value for key, value in function.items() if key not in GET_ONLY_FIELDS},
        "Policy": decode_policy(policy["Policy"]) if policy else None,
        "FunctionUrlConfig": {key: url[key] for key in _URL_FIELDS if key in url} if url else None,
        "Aliases": aliases,
        "EventSourceMappings": mappings,
        "Tags": tags,
    }
    return Item(
        technology="lambda.function",
        region=ctx.region,
        id=name,
        name=name,
        arn=arn,
        configuration=configuration,
    )


def list_functions(ctx: SliceContext) -> list[Item]:
    """Every function of the region; the four per-function calls run on a small thread pool."""
    functions = collect(ctx.client("lambda"), "list_functions", "Functions")
    if not functions:
        return []
    mappings = _mappings_by_function(ctx)
    return describe_each(
        lambda function: _describe(ctx, function, mappings.get(_unqualified(function["FunctionArn"]), [])),
        functions,
        name="lambda-fn",
        gone=_NOT_FOUND,
    )


def get_function(ctx: SliceContext, name: str) -> Item | None:
    """One function: GetFunctionConfiguration (unqualified: $LATEST, as ListFunctions lists it),
    the region's event source mappings (the listing's own call, in one page of up to 10,000:
    ListEventSourceMappings filtered by function name is not documented to include the mappings
    of the function's aliases and versions, which the listing records), then the listing's four
    per-function calls: six calls. ``None`` on ResourceNotFoundException, and when the answer is
    another function's (a qualified name or an ARN is no function name)."""
    client = ctx.client("lambda")
    try:
        function = call_or_absent(client.get_function_configuration, _NOT_FOUND, FunctionName=name)
        if function is None or function["FunctionName"] != name:
            return None
        mappings = _mappings_by_function(ctx, PaginationConfig={"PageSize": MAPPINGS_PAGE_SIZE})
        return _describe(ctx, function, mappings.get(_unqualified(function["FunctionArn"]), []))
    except ClientError as exc:
        if is_error(exc, *_NOT_FOUND):  # deleted meanwhile, as the listing leaves it out
            return None
        raise


TECHNOLOGIES = (
    Technology(
        name="lambda.function",
        is_global=False,
        list_items=list_functions,
        get_item=get_function,
        description=(
            "Lambda functions: runtime, handler, role, timeout, memory, VPC, layers, architectures, "
            "tracing, KMS key, environment variables (values hashed), code hash, resource policy, "
            "function URL, aliases, event source mappings, tags."
        ),
        ephemeral_paths=(
            "LastModified",
            "RevisionId",
            "RuntimeVersionConfig.RuntimeVersionArn",  # moves with AWS's automatic runtime updates
            "State",
            "StateReason",
            "StateReasonCode",
            "LastUpdateStatus",
            "LastUpdateStatusReason",
            "LastUpdateStatusReasonCode",
            "FunctionUrlConfig.LastModifiedTime",
            "Aliases.*.RevisionId",
            "EventSourceMappings.*.LastModified",
            "EventSourceMappings.*.LastProcessingResult",
            "EventSourceMappings.*.StateTransitionReason",
        ),
        secret_paths=("Environment.Variables.*",),
        unordered_paths=(
            "Aliases",
            "EventSourceMappings",
            "VpcConfig.SubnetIds",
            "VpcConfig.SecurityGroupIds",
        ),
        always_returned={
            "lambda:GetPolicy": ("Policy",),
            "lambda:GetFunctionUrlConfig": ("FunctionUrl", "AuthType"),
            "lambda:ListFunctions": ("Functions",),
            "lambda:GetFunctionConfiguration": ("FunctionName", "FunctionArn"),
        },
        iam_actions=(
            "lambda:ListFunctions",
            "lambda:GetFunctionConfiguration",
            "lambda:ListEventSourceMappings",
            "lambda:GetPolicy",
            "lambda:GetFunctionUrlConfig",
            "lambda:ListAliases",
            "lambda:ListTags",
        ),
    ),
)

"""AWS Config watchers: configuration recorders (three region-wide calls, none per recorder) and
Config rules (one paginated region-wide call, none per rule).

A region has at most one customer-managed recorder; service-linked recorders (made by other
AWS services) are not returned by these calls and are not recorded. Each recorder is recorded
with its recording status (``recording``; the last start/stop/status times and the last error
are ephemeral) and the region's delivery channels
(a region has at most one; they are not attached to a recorder by name, so every recorder of
the region carries them).

Config rules are read in every region (Security Monkey read us-east-1 only). A rule is recorded
as DescribeConfigRules returns it (scope, source with its owner, identifier, source details or
Guard policy, maximum execution frequency, evaluation modes, the service that created a
service-linked rule), with ``InputParameters`` decoded from its JSON string and the ARN left to
the document's ``arn``. ``ConfigRuleState`` is ephemeral: ``EVALUATING`` and ``DELETING_RESULTS``
are set for the length of an evaluation or a results purge, and ``DELETING`` ends with the rule
gone, which is recorded then as the item's deletion; ``ACTIVE`` is the only lasting state.
Evaluation results (compliance) are outcomes, not configuration, and are not read. Tags are not
read either (one more call per rule, and nothing in them changes what a rule checks).

One rule is read again (``get_item``) with one DescribeConfigRules given its name
(NoSuchConfigRuleException: not found). Recorders have no single-item read: each carries the
region's delivery channels, read region-wide and shared with config.status.

Unrelated to ``gitmonkey.config`` (the configuration file): this module is
``gitmonkey.watchers.config``.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from botocore.exceptions import ClientError

from gitmonkey.model import Item, Technology
from gitmonkey.read.aws import SliceContext
from gitmonkey.watchers._common import collect, is_error, partition, posture_item

_RECORDER_FIELDS = (
    "roleARN",
    "recordingGroup",
    "recordingMode",
    "recordingScope",
    "servicePrincipal",
)
_EPHEMERAL_STATUS_FIELDS = (
    "lastStartTime",
    "lastStopTime",
    "lastStatus",
    "lastErrorCode",
    "lastErrorMessage",
    "lastStatusChangeTime",
)


def _arn(ctx: SliceContext, recorder: dict[str, Any]) -> str:
    """AWS returns the recorder's ARN in recent API versions; older ones (and moto) do not, and
    the real ARN carries a suffix that cannot be derived, so the name-only form stands in."""
    if recorder.get("arn"):
        return recorder["arn"]
    prefix = f"arn:{partition(ctx.client_region)}:config:{ctx.region}:{ctx.account_id}"
    return f"{prefix}:configuration-recorder/{recorder['name']}"


def _shared_call(ctx: SliceContext, operation: str, key: str) -> list[dict[str, Any]]:
    """The ``key`` list of one region-wide Config call, made once per sync and region and shared
    by config.recorder and config.status (a failure is shared too: both slices fail)."""

    def fetch() -> list[dict[str, Any]]:
        return getattr(ctx.client("config"), operation)().get(key) or []

    return ctx.shared(("config", ctx.region, operation), fetch)


def _recorders(ctx: SliceContext) -> list[dict[str, Any]]:
    return _shared_call(ctx, "describe_configuration_recorders", "ConfigurationRecorders")


def _recorder_statuses(ctx: SliceContext) -> dict[str, dict[str, Any]]:
    statuses = _shared_call(ctx, "describe_configuration_recorder_status", "ConfigurationRecordersStatus")
    return {status["name"]: status for status in statuses}


def _delivery_channels(ctx: SliceContext) -> list[dict[str, Any]]:
    return sorted(
        _shared_call(ctx, "describe_delivery_channels", "DeliveryChannels"), key=lambda c: c.get("name", "")
    )


def list_recorders(ctx: SliceContext) -> list[Item]:
    recorders = _recorders(ctx)
    if not recorders:
        return []
    statuses = _recorder_statuses(ctx)
    channels = _delivery_channels(ctx)
    items = []
    for recorder in recorders:
        name = recorder["name"]
        status = statuses.get(name)
        if status is None:  # deleted between the two calls
            continue
        configuration: dict[str, Any] = {"name": name}
        configuration.update({field: copy.deepcopy(recorder.get(field)) for field in _RECORDER_FIELDS})
        configuration["recording"] = status.get("recording")
        configuration["status"] = {field: status.get(field) for field in _EPHEMERAL_STATUS_FIELDS}
        configuration["deliveryChannels"] = copy.deepcopy(channels)
        items.append(Item("config.recorder", ctx.region, name, name, _arn(ctx, recorder), configuration))
    return items


def _input_parameters(raw: Any) -> Any:
    """A rule's InputParameters (a JSON object in a string) as an object. AWS validates the JSON
    when the rule is put; a value that does not decode anyway is kept as the string it is, so
    that one odd rule cannot fail the region's read."""
    if not isinstance(raw, str):
        return raw
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        return raw


def _rule_arn(ctx: SliceContext, rule: dict[str, Any]) -> str:
    """AWS returns ``ConfigRuleArn``, built on the rule's id (``config-rule-abc123``), not its name."""
    if rule.get("ConfigRuleArn"):
        return rule["ConfigRuleArn"]
    prefix = f"arn:{partition(ctx.client_region)}:config:{ctx.region}:{ctx.account_id}"
    return f"{prefix}:config-rule/{rule.get('ConfigRuleId') or rule['ConfigRuleName']}"


def _rule_item(ctx: SliceContext, rule: dict[str, Any]) -> Item:
    name = rule["ConfigRuleName"]
    configuration = {key: value for key, value in rule.items() if key != "ConfigRuleArn"}
    if "InputParameters" in configuration:
        configuration["InputParameters"] = _input_parameters(configuration["InputParameters"])
    return Item("config.rule", ctx.region, name, name, _rule_arn(ctx, rule), configuration)


def list_rules(ctx: SliceContext) -> list[Item]:
    """Every Config rule of the region (customer rules and service-linked ones, e.g. those of
    conformance packs and Security Hub), from DescribeConfigRules' pages."""
    rules = collect(ctx.client("config"), "describe_config_rules", "ConfigRules")
    return [_rule_item(ctx, rule) for rule in rules]


def get_rule(ctx: SliceContext, name: str) -> Item | None:
    try:
        rules = collect(ctx.client("config"), "describe_config_rules", "ConfigRules", ConfigRuleNames=[name])
    except ClientError as exc:
        if is_error(exc, "NoSuchConfigRuleException"):
            return None
        raise
    matches = [rule for rule in rules if rule.get("ConfigRuleName") == name]
    if len(matches) > 1:
        raise ValueError(f"DescribeConfigRules answered {len(matches)} rules named {name!r}")
    return _rule_item(ctx, matches[0]) if matches else None


def list_status(ctx: SliceContext) -> list[Item]:
    """The region's Config posture: one item (id and name the region) that always exists.

    ``Recorders``: name, ``recording`` (a recorder stopped is a change to record), and its
    recording group's ``allSupported`` and ``includeGlobalResourceTypes``; ``DeliveryChannels``:
    the channel names. The same three calls as config.recorder, shared with it through
    ``ctx.shared``, so a sync makes them once per region. A recorder deleted between the calls
    (listed without a status) is left out.
    """
    recorders = _recorders(ctx)
    statuses = _recorder_statuses(ctx) if recorders else {}
    entries = []
    for recorder in recorders:
        status = statuses.get(recorder["name"])
        if status is None:
            continue
        group = recorder.get("recordingGroup") or {}
        entries.append(
            {
                "name": recorder["name"],
                "recording": status.get("recording"),
                "allSupported": group.get("allSupported"),
                "includeGlobalResourceTypes": group.get("includeGlobalResourceTypes"),
            }
        )
    channels = [channel.get("name") for channel in _delivery_channels(ctx)]
    configuration = {"Recorders": entries, "DeliveryChannels": channels}
    return [posture_item(ctx, "config.status", configuration)]


# The three calls config.recorder and config.status share (see list_status), with what each answer
# always holds.
_RECORDER_CALLS: dict[str, tuple[str, ...]] = {
    "config:DescribeConfigurationRecorders": ("ConfigurationRecorders",),
    "config:DescribeConfigurationRecorderStatus": ("ConfigurationRecordersStatus",),
    "config:DescribeDeliveryChannels": ("DeliveryChannels",),
}

TECHNOLOGIES = (
    Technology(
        name="config.recorder",
        is_global=False,
        list_items=list_recorders,
        description=(
            "AWS Config configuration recorders: IAM role, recording group (all supported or listed "
            "resource types, exclusions, global resources), recording mode, recording on/off, the "
            "region's delivery channels (S3 bucket and prefix, KMS key, SNS topic, snapshot frequency)."
        ),
        ephemeral_paths=tuple(f"status.{field}" for field in _EPHEMERAL_STATUS_FIELDS),
        unordered_paths=(
            "recordingGroup.resourceTypes",
            "recordingGroup.exclusionByResourceTypes.resourceTypes",
            "recordingMode.recordingModeOverrides",
            "recordingMode.recordingModeOverrides.*.resourceTypes",
        ),
        always_returned=_RECORDER_CALLS,
        iam_actions=tuple(_RECORDER_CALLS),
    ),
    Technology(
        name="config.rule",
        is_global=False,
        list_items=list_rules,
        get_item=get_rule,
        description=(
            "AWS Config rules: scope (resource types, tag, resource id), source (AWS managed rule "
            "identifier, custom Lambda ARN with its triggers, or Guard policy text), input parameters "
            "(decoded), maximum execution frequency, evaluation modes, the service that created a "
            "service-linked rule. Evaluation results are not read."
        ),
        ephemeral_paths=("ConfigRuleState",),
        unordered_paths=(
            "Scope.ComplianceResourceTypes",
            "Scope.ServicePrincipals",
            "Source.SourceDetails",
            "EvaluationModes",
        ),
        always_returned={
            "config:DescribeConfigRules": ("ConfigRules",),
        },
        iam_actions=("config:DescribeConfigRules",),
    ),
    Technology(
        name="config.status",
        is_global=False,
        list_items=list_status,
        description=(
            "AWS Config per region (one item per region, present even without a recorder): each "
            "configuration recorder's name, recording on/off, whether it records all supported and "
            "global resource types; the delivery channels' names."
        ),
        unordered_paths=("Recorders", "DeliveryChannels"),
        always_returned=_RECORDER_CALLS,
        iam_actions=tuple(_RECORDER_CALLS),
    ),
)

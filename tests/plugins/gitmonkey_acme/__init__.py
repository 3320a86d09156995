"""A third-party watcher package, as docs/readme/watchers.md shows it: ``acme.parameter``, the
metadata of SSM parameters (never their values), registered through the ``gitmonkey.watchers``
entry point. tests/test_watcher_plugins.py installs it into the test environment."""

from __future__ import annotations

from gitmonkey.model import Item, Technology
from gitmonkey.read.aws import SliceContext
from gitmonkey.watchers._common import collect, partition

FIELDS = ("Type", "KeyId", "Tier", "DataType", "Policies")


def list_parameters(ctx: SliceContext) -> list[Item]:
    items = []
    for parameter in collect(ctx.client("ssm"), "describe_parameters", "Parameters"):
        name = parameter["Name"]
        items.append(Item(
            technology="acme.parameter",
            region=ctx.region,
            id=name,
            name=name,
            arn=f"arn:{partition(ctx.client_region)}:ssm:{ctx.region}:{ctx.account_id}:parameter{name}",
            configuration={key: parameter.get(key) for key in FIELDS},
        ))
    return items


TECHNOLOGIES = (
    Technology(
        name="acme.parameter",
        is_global=False,
        list_items=list_parameters,
        description="SSM parameters: type, KMS key, tier, data type, policies (never the value).",
        unordered_paths=("Policies",),
        always_returned={"ssm:DescribeParameters": ("Parameters",)},
        iam_actions=("ssm:DescribeParameters",),
    ),
)

"""IAM Access Analyzer watcher: the region's analyzers, as one posture item per region
(``accessanalyzer.status``).

The item always exists, with id and name the region's name: a region without an analyzer is
recorded as ``{"Analyzers": [], "Unsupported": []}``, so that "no analyzer" is an ordinary issue
of an ordinary item, and ``git log`` shows when one was created, disabled or deleted.

One call per region: ListAnalyzers (paginated) without a ``type`` filter, so every kind of
analyzer is listed: external access (``ACCOUNT``, ``ORGANIZATION``), unused access
(``ACCOUNT_UNUSED_ACCESS``, ``ORGANIZATION_UNUSED_ACCESS``) and internal access
(``ACCOUNT_INTERNAL_ACCESS``, ``ORGANIZATION_INTERNAL_ACCESS``). The list entries already hold
everything an analyzer has, so there is no per-analyzer call. An organization's analyzer lives in
its management (or delegated administrator) account: a member account lists only its own.

Per analyzer, AWS's own (camelCase) fields: ``arn``, ``name``, ``type``, ``status`` (``ACTIVE``,
``CREATING``, ``DISABLED``, ``FAILED``: recorded, as it decides whether the region is analysed
at all), ``statusReason``, ``createdAt`` (an analyzer deleted and re-created is a change),
``configuration`` (unused access age and analysis rules, internal access rules), ``managedBy``
and ``tags``. ``lastResourceAnalyzed`` and ``lastResourceAnalyzedAt`` change with every analysed
resource and are ephemeral.

An endpoint that does not offer Access Analyzer (moto 5.2 emulates none of it) makes
``{"Analyzers": null, "Unsupported": ["ListAnalyzers"]}`` instead of a failed slice (see
``_common.read_if_supported``), and the absence rule does not fire on it. AccessDenied,
throttling and every other error fail the slice, which keeps its file.
"""

from __future__ import annotations

from typing import Any

from gitmonkey.model import Item, Technology
from gitmonkey.read.aws import SliceContext
from gitmonkey.watchers._common import collect, posture_item, read_if_supported

_FIELDS = (
    "arn",
    "name",
    "type",
    "status",
    "statusReason",
    "createdAt",
    "configuration",
    "managedBy",
    "tags",
    "lastResourceAnalyzed",
    "lastResourceAnalyzedAt",
)


def _analyzer(summary: dict[str, Any]) -> dict[str, Any]:
    analyzer = {field: summary.get(field) for field in _FIELDS}
    analyzer["tags"] = analyzer["tags"] or {}
    return analyzer


def list_status(ctx: SliceContext) -> list[Item]:
    """The region's Access Analyzer status: one item, ``{"Analyzers": [...], "Unsupported": []}``."""
    client = ctx.client("accessanalyzer")
    listed = read_if_supported(client, lambda: collect(client, "list_analyzers", "analyzers"))
    if listed is None:
        configuration: dict[str, Any] = {"Analyzers": None, "Unsupported": ["ListAnalyzers"]}
    else:
        configuration = {"Analyzers": [_analyzer(summary) for summary in listed], "Unsupported": []}
    return [posture_item(ctx, "accessanalyzer.status", configuration)]


TECHNOLOGIES: tuple[Technology, ...] = (
    Technology(
        name="accessanalyzer.status",
        is_global=False,
        list_items=list_status,
        description=(
            "IAM Access Analyzer per region (one item per region, present even without an "
            "analyzer): every analyzer of the account (external, unused and internal access; "
            "account or organization zone of trust) with its status, configuration and tags."
        ),
        ephemeral_paths=("Analyzers.*.lastResourceAnalyzed", "Analyzers.*.lastResourceAnalyzedAt"),
        unordered_paths=("Analyzers", "Unsupported"),
        always_returned={"accessanalyzer:ListAnalyzers": ("analyzers",)},
        iam_actions=("access-analyzer:ListAnalyzers",),
    ),
)

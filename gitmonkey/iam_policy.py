"""The read-only IAM policy gitmonkey needs: the watchers' declared actions, and the calls it makes
outside them, for the technologies a configuration enables (``gitmonkey iam-policy``).

Grant no more than is used, and miss nothing that is called: every AWS call gitmonkey makes is
either a watcher's (declared in its ``Technology.iam_actions``, checked by the tests against the
calls the watcher makes) or one of ``OUTSIDE_WATCHERS``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gitmonkey.config import Config
    from gitmonkey.model import Technology


@dataclass(frozen=True)
class OutsideCall:
    action: str
    why: str


REGION_DISCOVERY = OutsideCall(
    "ec2:DescribeRegions", "the regions enabled in an account, when its config lists none (read.aws)"
)
ATTRIBUTION = OutsideCall(
    "cloudtrail:LookupEvents", "who made a change, with attribution.enabled (gitmonkey.attribution)"
)
OUTSIDE_WATCHERS: tuple[OutsideCall, ...] = (REGION_DISCOVERY, ATTRIBUTION)


def needed_actions(
    technologies: Iterable[Technology], *, region_discovery: bool = True, attribution: bool = True
) -> dict[str, list[str]]:
    """Each action, sorted, with what needs it (technology names, or the reason of an outside call)."""
    needed: dict[str, list[str]] = {}
    for technology in technologies:
        for action in technology.iam_actions:
            needed.setdefault(action, []).append(technology.name)
    for call, wanted in ((REGION_DISCOVERY, region_discovery), (ATTRIBUTION, attribution)):
        if wanted:
            needed.setdefault(call.action, []).append(call.why)
    return {action: sorted(needed[action]) for action in sorted(needed)}


def policy_document(actions: Iterable[str]) -> dict[str, Any]:
    """An IAM policy allowing ``actions`` (read-only by construction: describe, get and list calls)."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "GitmonkeyReadOnly", "Effect": "Allow", "Action": sorted(set(actions)), "Resource": "*"}
        ],
    }


def for_config(config: Config, requested: Sequence[str] = ()) -> dict[str, list[str]]:
    """The actions the configuration's enabled technologies (narrowed by ``requested`` globs)
    need, with region discovery only if an account (or, with ``organization:``, the discovered
    accounts) lists no regions and CloudTrail lookups only with attribution enabled. The
    organization's own calls are the management credentials', not every account's: see
    docs/readme/organizations.md."""
    from gitmonkey.sync import select_technologies

    return needed_actions(
        select_technologies(config, requested),
        region_discovery=any(not account.regions for account in config.accounts)
        or (config.organization is not None and not config.organization.regions),
        attribution=bool(config.attribution.get("enabled")),
    )

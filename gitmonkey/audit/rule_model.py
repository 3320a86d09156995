"""The rule model: what a rule is, what its check yields, and the finding it becomes."""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from gitmonkey.audit.context import AuditContext

RULE_ERROR_ID = "gitmonkey.rule-error"
RULE_ERROR_SCORE = 1

CheckFunction = Callable[[dict, "dict | None", AuditContext], Iterable["Hit"]]


class RuleError(Exception):
    """A rule that cannot be loaded or run; the message names the file (or source) and the rule."""


@dataclass(frozen=True)
class Finding:
    rule_id: str
    score: int
    title: str
    details: str
    path: str
    key: str
    compared_with: str | None = None
    """For a rule that compares versions: the revision (commit) its previous version was read from."""


@dataclass(frozen=True)
class Hit:
    """What a rule's check yields: one specific finding, before the rule's id, score and title."""

    details: str
    path: str
    key: str = ""
    score: int | None = None
    """A score for this finding below the rule's (an exposed port scores more than a web port); the
    rule's score, after overrides, is the ceiling."""


@dataclass(frozen=True)
class Rule:
    id: str
    technology: str
    score: int
    title: str
    description: str
    remediation: str
    source: str
    check: CheckFunction = field(compare=False, repr=False)
    enabled: bool = True
    kind: str = "python"
    compares_versions: bool = False
    """The check looks at ``previous`` (a change rule): its issues stay open while the change they
    report still holds against the version it was first measured against (see ``audit.run``)."""
    compliance: dict[str, tuple[str, ...]] = field(default_factory=dict, compare=False)
    """Framework -> ids of the controls the rule implements, e.g. ``{"fsbp": ("EC2.19",)}``."""
    weigh: str = ""
    """``exposure``: each finding's score is weighed by how exposed the items using the finding's
    security group permission are (``gitmonkey.audit.exposure.weigh_permission``)."""

    def applies_to(self, technology: str) -> bool:
        return fnmatch.fnmatchcase(technology, self.technology)


def rule(
    *,
    id: str,
    technology: str,
    score: int,
    title: str,
    description: str,
    remediation: str,
    enabled: bool = True,
    compares_versions: bool = False,
    compliance: dict[str, tuple[str, ...]] | None = None,
    weigh: str = "",
) -> Callable[[CheckFunction], CheckFunction]:
    """Register a Python check ``f(document, previous, ctx) -> Iterable[Hit]`` as a rule.

    ``compliance`` names the framework controls the rule implements (``{"cis-aws-3.0": ("1.14",)}``).
    ``compares_versions=True`` declares a change rule (its hits depend on ``previous``): an open
    issue of it is re-checked against the version it was first compared with, not only against
    the item's immediate previous version.

    The function gets a ``gitmonkey_rule`` attribute; ``rules_from_object`` finds it on a module
    (the built-in ``python_rules`` module, or a module named by a ``gitmonkey.rules`` entry point).
    """

    def decorate(func: CheckFunction) -> CheckFunction:
        func.gitmonkey_rule = Rule(  # type: ignore[attr-defined]
            id=id,
            technology=technology,
            score=score,
            title=title,
            description=description,
            remediation=remediation,
            source=f"python:{func.__module__}.{func.__qualname__}",
            check=func,
            enabled=enabled,
            compares_versions=compares_versions,
            compliance={k: tuple(v) for k, v in (compliance or {}).items()},
            weigh=weigh,
        )
        return func

    return decorate


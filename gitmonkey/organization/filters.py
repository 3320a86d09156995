"""Which accounts of an organization are synced: ``organization.statuses``, ``include``, ``exclude``.

An OU path glob is matched segment by segment against the account's OU path, written from the
root: ``/Root/Prod/Web`` (the names of the OUs; the root is named ``Root``) or
``/r-ab12/ou-ab12-11111111/ou-ab12-22222222`` (their ids); a glob matches when it matches either.

- ``*`` matches within one segment (any part of one OU name), ``?`` one character, ``[...]`` one
  of the characters; matching is case-sensitive, as OU names are.
- ``**`` as a whole segment matches zero or more segments: ``/Root/Prod/**`` is the OU Prod and
  every OU below it, ``/Root/**/Web`` every OU named Web, ``/**`` the whole organization.
- Without ``**`` a glob names a level: ``/Root/Prod`` is the accounts directly in Prod,
  ``/Root/*`` the accounts of the OUs directly under the root, ``/Root`` those outside every OU.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping, Sequence

from gitmonkey.config import AccountFilter, OrganizationConfig
from gitmonkey.organization.tree import Member


def ou_glob_matches(pattern: str, segments: Sequence[str]) -> bool:
    """Whether the OU path glob ``pattern`` (``/Root/Prod/**``) matches the path ``segments``."""
    parts = [p for p in pattern.split("/") if p]
    return _match(parts, list(segments))


def _match(parts: list[str], segments: list[str]) -> bool:
    if not parts:
        return not segments
    head, rest = parts[0], parts[1:]
    if head == "**":
        return any(_match(rest, segments[i:]) for i in range(len(segments) + 1))
    return bool(segments) and fnmatch.fnmatchcase(segments[0], head) and _match(rest, segments[1:])


def tag_matches(spec: str, tags: Mapping[str, str]) -> bool:
    """``Key=ValueGlob`` as ignore rules read it: a tag whose key matches ``Key`` and whose value
    matches ``ValueGlob`` (an empty ``ValueGlob`` matches any value)."""
    key, _, value = spec.partition("=")
    return any(
        fnmatch.fnmatchcase(k, key) and fnmatch.fnmatchcase(str(v), value or "*") for k, v in tags.items()
    )


def filter_matches(account_filter: AccountFilter, member: Member, tags: Mapping[str, str] | None) -> bool:
    """Whether every key the filter sets matches the account (``tags`` None: not read, no tag matches)."""
    if account_filter.ou is not None and not (
        ou_glob_matches(account_filter.ou, member.parent.path)
        or ou_glob_matches(account_filter.ou, member.parent.id_path)
    ):
        return False
    if account_filter.tag is not None and not tag_matches(account_filter.tag, tags or {}):
        return False
    if account_filter.name is not None and not fnmatch.fnmatchcase(member.name, account_filter.name):
        return False
    return account_filter.id is None or fnmatch.fnmatchcase(member.id, account_filter.id)


def needs_tags(organization: OrganizationConfig) -> bool:
    """Whether a filter reads tags: only then does the discovery call ListTagsForResource per account."""
    return any(f.tag is not None for f in (*organization.include, *organization.exclude))


def skip_reason(
    organization: OrganizationConfig, member: Member, tags: Mapping[str, str] | None
) -> str | None:
    """Why the organization's settings leave the account out (None: it is synced). The state comes
    first, then ``include`` (it must match one entry when there are any), then ``exclude``."""
    if member.state not in organization.statuses:
        return f"state {member.state} (organization.statuses: {', '.join(organization.statuses)})"
    if organization.include and not any(filter_matches(f, member, tags) for f in organization.include):
        return "matches no organization.include filter"
    for index, account_filter in enumerate(organization.exclude):
        if filter_matches(account_filter, member, tags):
            return f"excluded by organization.exclude[{index}] ({account_filter.describe()})"
    return None

"""The gitmonkey name of a discovered account: its repository folder, ``<repos_dir>/<name>``.

``organization.account_name`` (default ``{name}``) is filled with the AWS account name and id, then
made a safe folder name as ``accounts[].name`` must be: every run of characters other than
letters, digits, ``.``, ``_`` and ``-`` becomes one ``-``, leading ``.``, ``_``, ``-`` and trailing
``-`` are dropped, at most 100 characters, and the account id when nothing is left
(``"Prod (EU)"`` -> ``Prod-EU``).

Names are unique ignoring letter case (two folders that differ only in case collide on macOS and
Windows). An ``accounts:`` entry keeps its own name, and the other accounts are named in the order
they joined the organization (then by id): the first to want a name gets it, each later one gets
``<name>-<account id>``. Every account of the organization is named, synced or not, so that a
suspended or excluded account keeps its name, and its repository, from the account that would
otherwise take it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime

from gitmonkey.config import render_template
from gitmonkey.organization.tree import Member

MAX_NAME = 100
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def sanitize(text: str, fallback: str) -> str:
    """``text`` as a safe account name (see the module docstring); ``fallback`` when nothing is left."""
    name = _UNSAFE.sub("-", text).lstrip("._-")[:MAX_NAME].rstrip("-")
    return name or fallback


def _joined(member: Member) -> tuple[datetime, str]:
    when = member.joined_timestamp
    if when is None:
        when = datetime.max.replace(tzinfo=UTC)
    elif when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when, member.id


def assign_names(members: Iterable[Member], template: str, taken: Iterable[str]) -> dict[str, str]:
    """Account id -> unique name for ``members``, none equal (ignoring case) to a name in ``taken``."""
    used = {name.lower() for name in taken}
    names: dict[str, str] = {}
    for member in sorted(members, key=_joined):
        wanted = sanitize(render_template(template, name=member.name, id=member.id), member.id)
        name = wanted
        if name.lower() in used:
            suffix = f"-{member.id}"
            name = wanted[: MAX_NAME - len(suffix)] + suffix
            counter = 2
            while name.lower() in used:  # an account literally named "<name>-<id>" before it
                extra = f"{suffix}-{counter}"
                name, counter = wanted[: MAX_NAME - len(extra)] + extra, counter + 1
        used.add(name.lower())
        names[member.id] = name
    return names

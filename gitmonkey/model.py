"""The core vocabulary shared by watchers, the store, the audit and the notifier."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gitmonkey.read.aws import SliceContext

GLOBAL_REGION = "global"


@dataclass(frozen=True)
class Item:
    """One AWS item as a watcher read it, before normalisation.

    ``configuration`` holds JSON-able values (datetimes allowed: the normaliser turns them
    into ISO-8601 UTC). Policy documents must already be decoded into objects.
    """

    technology: str
    region: str
    id: str
    name: str
    arn: str
    configuration: dict[str, Any]


@dataclass(frozen=True)
class Technology:
    """What a watcher module declares for one technology (e.g. ``iam.user``).

    Paths are dotted JSON paths inside ``configuration`` where ``*`` matches any key or any
    list element, e.g. ``AccessKeys.*.LastUsedDate``.

    - ``ephemeral_paths``: values that change without a configuration change; removed.
    - ``secret_paths``: values replaced by a keyed hash, so a change stays visible.
    - ``unordered_paths``: lists whose order AWS does not define; sorted.
    - ``iam_actions``: the read-only actions the watcher needs (for the documented policy).
    - ``always_returned``: ``"service:Operation"`` (botocore's service name) -> the output
      members that every answer AWS gives to that call carries, beyond those botocore's model
      marks required. An answer without them is unreadable, not empty: without this, an
      answer such as ``{}`` would read as "no attributes" and record a false modification.
    - ``list_items``: reads every item of the technology in the slice's region. It must raise
      on any failure: a partial result would be recorded as deletions.
    - ``get_item``: reads the one item with this id in the slice's region, for a re-read after a
      CloudTrail event; None when AWS says the item does not exist, and it raises on any other
      failure (a failed read must never record a deletion). It must give exactly the ``Item`` that
      ``list_items`` gives for that id, or every event would record a false change. Absent when AWS
      has no call for one item (or the document needs the whole region): the slice is listed
      again and the item taken from it.
    """

    name: str
    is_global: bool
    list_items: Callable[[SliceContext], Iterable[Item]]
    description: str = ""
    ephemeral_paths: tuple[str, ...] = ()
    secret_paths: tuple[str, ...] = ()
    unordered_paths: tuple[str, ...] = ()
    iam_actions: tuple[str, ...] = ()
    always_returned: Mapping[str, tuple[str, ...]] = field(default_factory=dict, hash=False, compare=False)
    get_item: Callable[[SliceContext, str], Item | None] | None = field(default=None, compare=False)

    @property
    def service(self) -> str:
        return self.name.split(".", 1)[0]

    @property
    def type(self) -> str:
        return self.name.split(".", 1)[1]


@dataclass(frozen=True)
class SliceKey:
    """The unit of reading and of failure: one technology in one region of one account."""

    account: str
    region: str
    technology: str

    def __str__(self) -> str:
        return f"{self.account}/{self.region}/{self.technology}"

"""The per-item helpers every watcher shares: ``describe_each`` and ``name_from_tags``."""

from __future__ import annotations

import threading

import pytest
from botocore.exceptions import ClientError

from gitmonkey.model import Item
from gitmonkey.watchers._common import describe_each, name_from_tags


def _client_error(code: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": code}}, "Describe")


def _item(entry: str) -> Item:
    return Item("test.thing", "us-east-1", entry, entry, f"arn:aws:test:::{entry}", {})


def test_items_keep_listing_order_and_deleted_entries_are_left_out() -> None:
    def describe(entry: str) -> Item | None:
        if entry == "returned-none":
            return None
        if entry == "gone":
            raise _client_error("NotFound")
        return _item(entry)

    entries = ["a", "returned-none", "b", "gone", "c"]
    items = describe_each(describe, entries, workers=3, gone=("NotFound",))
    assert [item.id for item in items] == ["a", "b", "c"]


def test_any_other_failure_re_raises_instead_of_a_partial_list() -> None:
    def describe(entry: str) -> Item:
        if entry == "throttled":
            raise _client_error("Throttling")
        return _item(entry)

    with pytest.raises(ClientError) as caught:
        describe_each(describe, ["a", "throttled", "b"], gone=("NotFound",))
    assert caught.value.response["Error"]["Code"] == "Throttling"


def test_gone_codes_are_not_swallowed_unless_named() -> None:
    def describe(entry: str) -> Item:
        raise _client_error("NotFound")

    with pytest.raises(ClientError):
        describe_each(describe, ["a"])


def test_describe_runs_on_named_worker_threads() -> None:
    seen: list[str] = []

    def describe(entry: str) -> Item:
        seen.append(threading.current_thread().name)
        return _item(entry)

    assert len(describe_each(describe, ["a", "b"], workers=2, name="demo-pool")) == 2
    assert seen and all(name.startswith("demo-pool") for name in seen)


def test_name_from_tags() -> None:
    assert name_from_tags({"Name": "web"}, "sg-1") == "web"
    assert name_from_tags({"Name": ""}, "sg-1") == "sg-1"
    assert name_from_tags({}, "sg-1") == "sg-1"

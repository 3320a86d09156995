"""Canonical item documents: exact bytes, ordering, ephemeral values, redaction, change lists."""

from __future__ import annotations

import copy
import json
import random
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from gitmonkey.model import Item, Technology
from gitmonkey.normalize import (
    NormalizationError,
    canonical_json,
    changed_paths,
    merge_ephemeral,
    normalize_item,
)

ACCOUNT = "123456789012"
KEY = b"k" * 32

USER = Technology(
    name="iam.user",
    is_global=True,
    list_items=lambda ctx: [],
    ephemeral_paths=("AccessKeys.*.LastUsedDate", "PasswordLastUsed", "Missing.*.Path"),
    secret_paths=("LoginProfile.Password", "Environment.Variables.*"),
    unordered_paths=("Groups", "AccessKeys", "Policies.*.Statement", "Nope"),
)


def _user(**overrides) -> Item:
    configuration = {
        "AccessKeys": [
            {"AccessKeyId": "AKIAB", "LastUsedDate": datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)},
            {"AccessKeyId": "AKIAA", "LastUsedDate": datetime(2024, 6, 1, 14, 0, 0, tzinfo=UTC)},
        ],
        "CreateDate": datetime(2020, 1, 2, 3, 4, 5),
        "Environment": {"Variables": {"DB_PASSWORD": "hunter2", "EMPTY": None}},
        "Groups": ["zeta", "alpha", "mu"],
        "LoginProfile": {"Password": "p4ss"},
        "PasswordLastUsed": datetime(2024, 7, 1, tzinfo=UTC),
        "Path": ["c", "a", "b"],
        "Tags": {"env": "prod", "cost.center": "42"},
    }
    configuration.update(overrides)
    return Item(
        technology="iam.user",
        region="global",
        id="bob",
        name="bob",
        arn=f"arn:aws:iam::{ACCOUNT}:user/bob",
        configuration=configuration,
    )


def _normalize(item: Item, key: bytes = KEY):
    return normalize_item(item, USER, account_id=ACCOUNT, secret_key=key)


def test_canonical_json_exact() -> None:
    value = {
        "b": {"z": 1, "a": [3, 1]},
        "a": datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=2))),
        "c": date(2024, 1, 2),
        "d": [Decimal("3"), Decimal("1.50"), Decimal("1E+2")],
        "e": {"b", "a"},
        "f": "caf\u00e9 \u2603",
        "g": (True, None, 1.25),
        "h": datetime(2024, 1, 2, 3, 4, 5, 120000),
    }
    assert canonical_json(value) == (
        "{\n"
        '  "a": "2024-01-02T01:04:05Z",\n'
        '  "b": {\n'
        '    "a": [\n'
        "      3,\n"
        "      1\n"
        "    ],\n"
        '    "z": 1\n'
        "  },\n"
        '  "c": "2024-01-02",\n'
        '  "d": [\n'
        "    3,\n"
        "    1.5,\n"
        "    100\n"
        "  ],\n"
        '  "e": [\n'
        '    "a",\n'
        '    "b"\n'
        "  ],\n"
        '  "f": "caf\u00e9 \u2603",\n'
        '  "g": [\n'
        "    true,\n"
        "    null,\n"
        "    1.25\n"
        "  ],\n"
        '  "h": "2024-01-02T03:04:05.120000Z"\n'
        "}\n"
    )


def test_canonical_json_naive_is_utc_and_stable() -> None:
    naive = datetime(2024, 1, 2, 3, 4, 5)
    assert canonical_json(naive) == canonical_json(naive.replace(tzinfo=UTC)) == '"2024-01-02T03:04:05Z"\n'
    assert canonical_json({"\ud800": "x"}).encode("utf-8") == b'{\n  "\\ud800": "x"\n}\n'
    assert json.loads(canonical_json({"\ud800": "x"})) == {"\ud800": "x"}


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"UserData": b"#!/bin/sh"}, r"\$\.UserData: bytes"),
        ({"a": [float("nan")]}, r"\$\.a\[0\]: nan"),
        ({"a": float("inf")}, "not a JSON number"),
        ({"a": Decimal("NaN")}, "not a JSON number"),
        ({1: "x"}, "not a string"),
        ({"a": object()}, "cannot write a object"),
    ],
)
def test_canonical_json_refuses(bad: object, message: str) -> None:
    with pytest.raises(NormalizationError, match=message):
        canonical_json(bad)


def test_normalized_document_and_bytes() -> None:
    result = _normalize(_user())
    document = json.loads(result.content)
    assert document == result.document
    assert list(document) == ["account", "arn", "configuration", "id", "name", "region", "technology"]
    assert result.content == canonical_json(result.document).encode("utf-8")
    configuration = document["configuration"]
    assert configuration["Groups"] == ["alpha", "mu", "zeta"]
    assert configuration["Path"] == ["c", "a", "b"]
    assert configuration["AccessKeys"] == [{"AccessKeyId": "AKIAA"}, {"AccessKeyId": "AKIAB"}]
    assert configuration["CreateDate"] == "2020-01-02T03:04:05Z"
    assert "PasswordLastUsed" not in configuration
    assert configuration["Environment"]["Variables"]["EMPTY"] is None


def test_ephemeral_values_are_recorded_with_their_final_index() -> None:
    result = _normalize(_user())
    assert result.ephemeral == {
        "configuration.AccessKeys.0.LastUsedDate": "2024-06-01T14:00:00Z",
        "configuration.AccessKeys.1.LastUsedDate": "2024-05-01T12:00:00Z",
        "configuration.PasswordLastUsed": "2024-07-01T00:00:00Z",
    }
    merged = merge_ephemeral(result.document, result.ephemeral)
    assert merged["configuration"]["AccessKeys"][0] == {
        "AccessKeyId": "AKIAA",
        "LastUsedDate": "2024-06-01T14:00:00Z",
    }
    assert merged["configuration"]["PasswordLastUsed"] == "2024-07-01T00:00:00Z"
    assert "PasswordLastUsed" not in result.document["configuration"]


def test_ephemeral_change_does_not_change_bytes() -> None:
    later = _user(
        AccessKeys=[
            {"AccessKeyId": "AKIAA", "LastUsedDate": datetime(2025, 1, 1, tzinfo=UTC)},
            {"AccessKeyId": "AKIAB", "LastUsedDate": datetime(2020, 1, 1, tzinfo=UTC)},
        ],
        PasswordLastUsed=datetime(2025, 2, 2, tzinfo=UTC),
    )
    assert _normalize(later).content == _normalize(_user()).content


def test_unordered_lists_sort_regardless_of_input_order() -> None:
    rng = random.Random(1234)
    statements = [{"Effect": "Allow", "Action": f"s3:Get{i}", "Resource": "*"} for i in range(6)]
    reference = None
    for _ in range(20):
        shuffled = statements[:]
        rng.shuffle(shuffled)
        groups = ["zeta", "alpha", "mu"]
        rng.shuffle(groups)
        item = _user(Groups=groups, Policies=[{"Statement": shuffled}])
        content = _normalize(item).content
        reference = reference or content
        assert content == reference
    ordered = _normalize(_user(Path=["b", "a", "c"])).content
    assert ordered != reference


def test_secrets_are_redacted_with_a_keyed_hash() -> None:
    result = _normalize(_user())
    text = result.content.decode()
    assert "hunter2" not in text and "p4ss" not in text
    password = result.document["configuration"]["LoginProfile"]["Password"]
    assert password.startswith("<redacted hmac-sha256:") and password.endswith(">")
    assert len(password) == len("<redacted hmac-sha256:>") + 16
    changed = _normalize(_user(LoginProfile={"Password": "p4ss!"})).document
    assert changed["configuration"]["LoginProfile"]["Password"] != password
    other_key = _normalize(_user(), key=b"another key").document
    assert other_key["configuration"]["LoginProfile"]["Password"] != password
    assert _normalize(_user()).content == result.content


def test_input_is_not_mutated() -> None:
    item = _user(Policies=[{"Statement": [{"b": 2}, {"a": 1}]}])
    before = copy.deepcopy(item.configuration)
    _normalize(item)
    assert item.configuration == before


def test_merge_ephemeral_returns_a_new_dict_and_skips_stale_paths() -> None:
    document = {"configuration": {"Keys": [{"Id": "a"}], "Tags": {"a.b": {}}}}
    values = {
        "configuration.Keys.0.LastUsed": "2024-01-01T00:00:00Z",
        "configuration.Keys.3.LastUsed": "x",
        "configuration.Gone.Value": 1,
        "configuration.Tags.a\\.b.When": "now",
    }
    merged = merge_ephemeral(document, values)
    assert merged == {
        "configuration": {
            "Keys": [{"Id": "a", "LastUsed": "2024-01-01T00:00:00Z"}],
            "Tags": {"a.b": {"When": "now"}},
        }
    }
    assert document == {"configuration": {"Keys": [{"Id": "a"}], "Tags": {"a.b": {}}}}


def test_ephemeral_keys_with_dots_round_trip() -> None:
    tech = Technology(name="lambda.function", is_global=False, list_items=lambda ctx: [],
                      ephemeral_paths=("State.*",))
    item = Item("lambda.function", "eu-west-1", "f", "f", "arn:f", {"State": {"a.b": 1, "c\\d": 2}})
    result = normalize_item(item, tech, account_id=ACCOUNT, secret_key=KEY)
    assert result.ephemeral == {"configuration.State.a\\.b": 1, "configuration.State.c\\\\d": 2}
    merged = merge_ephemeral(result.document, result.ephemeral)
    assert merged["configuration"]["State"] == {"a.b": 1, "c\\d": 2}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"account_id": "12345"}, "12 digits"),
        ({"secret_key": b""}, "secret_key"),
        ({"item": Item("iam.role", "global", "r", "r", "a", {})}, "does not match"),
        ({"item": Item("iam.user", "mars-1", "r", "r", "a", {})}, "invalid region"),
        ({"item": Item("iam.user", "global", "", "r", "a", {})}, "must not be empty"),
        ({"item": _user(UserData=b"x")}, "bytes"),
    ],
)
def test_normalize_item_rejects_bad_input(kwargs: dict, message: str) -> None:
    arguments = {"item": _user(), "account_id": ACCOUNT, "secret_key": KEY} | kwargs
    item = arguments.pop("item")
    with pytest.raises(ValueError, match=message):
        normalize_item(item, USER, **arguments)


def test_ephemeral_path_on_list_elements_is_a_declaration_error() -> None:
    tech = Technology(
        name="iam.user", is_global=True, list_items=lambda ctx: [], ephemeral_paths=("Groups.*",)
    )
    with pytest.raises(NormalizationError, match="Groups"):
        normalize_item(_user(), tech, account_id=ACCOUNT, secret_key=KEY)


def test_changed_paths_examples() -> None:
    old = {
        "configuration": {
            "IpPermissions": [{"FromPort": 22}, {"FromPort": 80}, {"FromPort": 443}],
            "Tags": {"env": "prod", "team": "a", "old key": "x"},
            "Description": "web",
        },
        "name": "web",
    }
    new = copy.deepcopy(old)
    new["configuration"]["IpPermissions"][2]["FromPort"] = 8443
    new["configuration"]["IpPermissions"].append({"FromPort": 9000})
    new["configuration"]["Tags"]["env"] = "dev"
    del new["configuration"]["Tags"]["old key"]
    new["configuration"]["Tags"]["cost.center"] = "42"
    new["configuration"]["Description"] = {"text": "web"}
    assert changed_paths(old, new) == [
        "~ configuration.Description",
        "~ configuration.IpPermissions[2].FromPort",
        "+ configuration.IpPermissions[3]",
        '+ configuration.Tags["cost.center"]',
        "~ configuration.Tags.env",
        '- configuration.Tags["old key"]',
    ]
    assert changed_paths(old, old) == []
    assert changed_paths(None, None) == []
    assert changed_paths(None, {"id": "x", "name": "y"}) == ["+ id", "+ name"]
    assert changed_paths({"id": "x"}, None) == ["- id"]
    assert changed_paths({"a": 1}, {"a": 1.0}) == ["~ a"]
    assert changed_paths({"a": {"k\n\u202e": 1}}, {"a": {}}) == ['- a["k\\n\\u202e"]']


def test_changed_paths_is_capped() -> None:
    old = {"configuration": {"Tags": {f"k{i:02d}": "a" for i in range(30)}}}
    new = {"configuration": {"Tags": {f"k{i:02d}": "b" for i in range(30)}}}
    lines = changed_paths(old, new)
    assert len(lines) == 21
    assert lines[0] == "~ configuration.Tags.k00"
    assert lines[-1] == "... and 10 more"
    assert changed_paths(old, new, limit=30)[-1] == "~ configuration.Tags.k29"


def test_changed_paths_matches_equal_list_elements_wherever_they_sit() -> None:
    """A rule inserted at the front of a sorted list is one addition, not a shift of every rule."""
    old = {"IpPermissions": [{"FromPort": 443}, {"FromPort": 80}]}
    new = {"IpPermissions": [{"FromPort": 22}, {"FromPort": 443}, {"FromPort": 80}]}
    assert changed_paths(old, new) == ["+ IpPermissions[0]"]
    assert changed_paths(new, old) == ["- IpPermissions[0]"]
    edited = {"IpPermissions": [{"FromPort": 443}, {"FromPort": 8080}]}
    assert changed_paths(old, edited) == ["~ IpPermissions[1].FromPort"]

"""The YAML filter language: each op, value_type, presence, and/or/not, list-item, change predicates."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from gitmonkey.audit.context import AuditContext
from gitmonkey.audit.filters import FilterError, Template, compile_filter, evaluate

CTX = AuditContext(
    account_id="123456789012",
    account_name="prod",
    known_accounts={
        "111111111111": {"name": "partner", "type": "friendly"},
        "222222222222": {"name": "vendor", "type": "third_party"},
    },
    trusted_cidrs=("10.0.0.0/8",),
    now=datetime(2024, 6, 1, tzinfo=UTC),
)

CONFIG: dict[str, Any] = {
    "Name": "Web-Server",
    "Count": 5,
    "Port": "443",
    "Tags": {"env": "prod", "team": "sec"},
    "Names": ["a", "b"],
    "Empty": [],
    "Cidr": "10.1.2.0/24",
    "Created": "2024-01-01T00:00:00Z",
    "Expires": "2024-06-11T00:00:00Z",
    "Flag": False,
    "Rules": [
        {"Proto": "tcp", "Port": 22, "Ranges": [{"Cidr": "10.0.0.0/8"}, {"Cidr": "0.0.0.0/0"}]},
        {"Proto": "udp", "Port": 53, "Ranges": [{"Cidr": "0.0.0.0/0"}]},
    ],
}


def doc(configuration: dict[str, Any]) -> dict[str, Any]:
    return {
        "account": CTX.account_id,
        "arn": "arn:x",
        "configuration": configuration,
        "id": "i",
        "name": "i",
        "region": "us-east-1",
        "technology": "t.t",
    }


def matches(
    spec: Any,
    configuration: dict[str, Any] | None = None,
    previous: dict[str, Any] | None = None,
) -> list[str]:
    node = compile_filter(spec)
    found = evaluate(
        node,
        doc(CONFIG if configuration is None else configuration),
        doc(previous) if previous is not None else None,
        CTX,
    )
    return [m.path for m in found]


def fires(spec: Any, **kwargs: Any) -> bool:
    return bool(matches(spec, **kwargs))


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"key": "Name", "value": "Web-Server"}, True),
        ({"key": "Name", "op": "eq", "value": "web-server"}, False),
        ({"key": "Name", "op": "ne", "value": "x"}, True),
        ({"key": "Count", "op": "lt", "value": 6}, True),
        ({"key": "Count", "op": "le", "value": 5}, True),
        ({"key": "Count", "op": "gt", "value": 5}, False),
        ({"key": "Count", "op": "ge", "value": 5}, True),
        ({"key": "Count", "op": "greater-than", "value": 4}, True),
        ({"key": "Name", "op": "in", "value": ["Web-Server", "x"]}, True),
        ({"key": "Name", "op": "not-in", "value": ["Web-Server"]}, False),
        ({"key": "Names", "op": "contains", "value": "b"}, True),
        ({"key": "Names", "op": "not-contains", "value": "c"}, True),
        ({"key": "Tags", "op": "contains", "value": "env"}, True),
        ({"key": "Name", "op": "glob", "value": "Web-*"}, True),
        ({"key": "Name", "op": "glob", "value": ["db-*", "x"]}, False),
        ({"key": "Name", "op": "regex", "value": "^Web-[A-Z]"}, True),
        ({"key": "Names", "op": "intersect", "value": ["b", "z"]}, True),
        ({"key": "Names", "op": "intersect", "value": ["z"]}, False),
        ({"key": "Names", "op": "difference", "value": ["a"]}, True),
        ({"key": "Names", "op": "difference", "value": ["a", "b"]}, False),
        ({"key": "Tags.env", "value": "prod"}, True),
        ({"key": "Flag", "value": False}, True),
        ({"key": "Missing", "op": "ne", "value": "x"}, False),
    ],
)
def test_ops(spec: dict[str, Any], expected: bool) -> None:
    assert fires(spec) is expected


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"key": "Created", "op": "gt", "value": 90, "value_type": "age"}, True),
        ({"key": "Created", "op": "gt", "value": 200, "value_type": "age"}, False),
        ({"key": "Expires", "op": "lt", "value": 30, "value_type": "expiration"}, True),
        ({"key": "Expires", "op": "lt", "value": 5, "value_type": "expiration"}, False),
        ({"key": "Port", "op": "eq", "value": 443, "value_type": "integer"}, True),
        ({"key": "Port", "op": "in", "value": [80, 443], "value_type": "integer"}, True),
        ({"key": "Names", "op": "eq", "value": 2, "value_type": "size"}, True),
        ({"key": "Cidr", "op": "in", "value": ["10.0.0.0/8"], "value_type": "cidr"}, True),
        ({"key": "Cidr", "op": "in", "value": ["192.168.0.0/16"], "value_type": "cidr"}, False),
        ({"key": "Cidr", "op": "eq", "value": "10.1.2.0/24", "value_type": "cidr"}, True),
        ({"key": "Cidr", "op": "contains", "value": "10.1.2.128/25", "value_type": "cidr"}, True),
        ({"key": "Cidr", "op": "lt", "value": 16, "value_type": "cidr_size"}, False),
        ({"key": "Name", "value": " web-server ", "value_type": "normalize"}, True),
        ({"key": "Created", "op": "lt", "value": "2024-02-01", "value_type": "date"}, True),
        ({"key": "Count", "value": "5", "value_type": "string"}, True),
        ({"key": "Name", "op": "gt", "value": 1, "value_type": "age"}, False),
        ({"key": "Cidr", "op": "in", "value_from": "trusted_cidrs", "value_type": "cidr"}, True),
    ],
)
def test_value_types(spec: dict[str, Any], expected: bool) -> None:
    assert fires(spec) is expected


def test_value_from_known_accounts() -> None:
    spec = {"key": "Owner", "op": "not-in", "value_from": "known_account_ids"}
    assert fires(spec, configuration={"Owner": "999999999999"})
    assert not fires(spec, configuration={"Owner": "222222222222"})
    assert fires(
        {"key": "Owner", "op": "in", "value_from": "third_party_account_ids"},
        configuration={"Owner": "222222222222"},
    )


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"present": "Name"}, True),
        ({"present": "Missing"}, False),
        ({"absent": "Missing"}, True),
        ({"empty": "Empty"}, True),
        ({"empty": "Missing"}, True),
        ({"empty": "Names"}, False),
        ({"not-empty": "Names"}, True),
        ({"key": "Missing", "value": "absent"}, True),
        ({"key": "Empty", "value": "not-empty"}, False),
    ],
)
def test_presence(spec: dict[str, Any], expected: bool) -> None:
    assert fires(spec) is expected


def test_and_or_not_and_implicit_and() -> None:
    yes, no = {"key": "Count", "value": 5}, {"key": "Count", "value": 6}
    assert fires({"and": [yes, yes]}) and not fires({"and": [yes, no]})
    assert fires({"or": [no, yes]}) and not fires({"or": [no, no]})
    assert fires({"not": no}) and not fires({"not": yes})
    assert fires([yes, {"not": [yes, no]}]) and not fires([yes, no])


def test_value_filter_path_points_at_key() -> None:
    assert matches({"key": "Tags.env", "value": "prod"}) == ["configuration.Tags.env"]


def test_list_item_yields_one_match_per_element_with_nested_paths() -> None:
    spec = {
        "list-item": {
            "key": "Rules",
            "as": "rule",
            "where": [
                {"key": "Proto", "value": "tcp"},
                {"list-item": {"key": "Ranges", "where": {"key": "Cidr", "value": "0.0.0.0/0"}}},
            ],
        }
    }
    assert matches(spec) == ["configuration.Rules[0].Ranges[1]"]
    any_open = {
        "list-item": {
            "key": "Rules",
            "where": {"list-item": {"key": "Ranges", "where": {"key": "Cidr", "value": "0.0.0.0/0"}}},
        }
    }
    assert matches(any_open) == ["configuration.Rules[0].Ranges[1]", "configuration.Rules[1].Ranges[0]"]
    assert matches({"list-item": {"key": "Rules", "where": {"key": "Port", "value": 53}}}) == [
        "configuration.Rules[1]"
    ]
    assert matches({"list-item": {"key": "Missing", "where": {"key": "Port", "value": 53}}}) == []


def test_list_item_conditions_hold_on_the_same_element() -> None:
    same = {
        "list-item": {
            "key": "Rules",
            "where": [{"key": "Proto", "value": "udp"}, {"key": "Port", "value": 22}],
        }
    }
    assert not fires(same)


def test_template_renders_bindings_and_functions() -> None:
    template = Template("{protocol_name(perm.IpProtocol)} {port_range(perm)} {{x}} {missing} {config.A}", "t")
    perm = {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 443}
    assert template.render({"perm": perm, "config": {"A": [1]}}) == "tcp 80-443 {x}  [1]"
    assert Template("{port_range(p)}", "t").render({"p": {"IpProtocol": "-1"}}) == "all"


PREVIOUS = {
    "Trust": ["a"],
    "Rules": [{"Proto": "tcp", "Port": 22, "Ranges": [{"Cidr": "10.0.0.0/8"}]}],
    "Public": True,
}


def test_changed() -> None:
    assert fires({"changed": "Trust"}, configuration={**PREVIOUS, "Trust": ["a", "b"]}, previous=PREVIOUS)
    assert not fires({"changed": "Trust"}, configuration=PREVIOUS, previous=PREVIOUS)
    assert not fires({"changed": "Trust"}, configuration=PREVIOUS)
    to_true = {
        "changed": {"key": "Public", "from": {"key": "@", "value": False}, "to": {"key": "@", "value": True}}
    }
    assert fires(to_true, configuration={"Public": True}, previous={"Public": False})
    assert not fires(to_true, configuration={"Public": False}, previous={"Public": True})


def test_added_item_sees_new_elements_and_new_matches_inside_paired_elements() -> None:
    spec = {
        "added-item": {
            "key": "Rules",
            "identity": "[Proto, Port]",
            "as": "rule",
            "where": {
                "list-item": {"key": "Ranges", "as": "range", "where": {"key": "Cidr", "value": "0.0.0.0/0"}}
            },
        }
    }
    opened = {
        "Rules": [{"Proto": "tcp", "Port": 22, "Ranges": [{"Cidr": "10.0.0.0/8"}, {"Cidr": "0.0.0.0/0"}]}]
    }
    assert matches(spec, configuration=opened, previous=PREVIOUS) == ["configuration.Rules[0].Ranges[1]"]
    assert matches(spec, configuration=opened, previous=opened) == []
    assert matches(spec, configuration=opened) == []
    new_rule = {
        "Rules": [*PREVIOUS["Rules"], {"Proto": "udp", "Port": 53, "Ranges": [{"Cidr": "0.0.0.0/0"}]}]
    }
    assert matches(spec, configuration=new_rule, previous=PREVIOUS) == ["configuration.Rules[1].Ranges[0]"]


def test_added_item_without_where_and_removed_item() -> None:
    previous = {"Names": ["a", "b"]}
    assert matches(
        {"added-item": {"key": "Names"}}, configuration={"Names": ["a", "c"]}, previous=previous
    ) == ["configuration.Names[1]"]
    assert matches(
        {"removed-item": {"key": "Names"}}, configuration={"Names": ["a", "c"]}, previous=previous
    ) == ["previous.configuration.Names[1]"]


def test_previous_and_is_new() -> None:
    weakened = [{"previous": {"key": "Public", "value": False}}, {"key": "Public", "value": True}]
    assert fires(weakened, configuration={"Public": True}, previous={"Public": False})
    assert not fires(weakened, configuration={"Public": True})
    assert fires({"is-new": True}, configuration={}) and not fires(
        {"is-new": True}, configuration={}, previous={}
    )
    assert fires({"is-new": False}, configuration={}, previous={})


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"key": "A", "op": "equals", "value": 1}, "filter.op: unknown op 'equals'"),
        ({"key": "A", "op": {"x": 1}, "value": 1}, "filter.op: expected an op name such as 'eq'"),
        ({"key": "A", "value": 1, "value_type": ["age"]}, "filter.value_type: expected a value type name"),
        ({"key": "A", "value": 1, "value_type": "kb"}, "filter.value_type: unknown value_type 'kb'"),
        ({"key": "A[", "value": 1}, "filter.key: invalid JMESPath 'A['"),
        ({"key": "A", "op": "in", "value": "x"}, "filter.value: op 'in' needs a list value"),
        ({"key": "A", "op": "regex", "value": "("}, "filter.value: invalid regular expression"),
        ({"key": "A", "value": "1.2.3.4/99", "value_type": "cidr"}, "'1.2.3.4/99' is not a valid cidr value"),
        ({"key": "A", "op": "gt", "value": "old", "value_type": "age"}, "'old' is not a valid age value"),
        ({"key": "A"}, "exactly one of 'value' or 'value_from'"),
        ({"key": "A", "value": 1, "colour": 2}, "unknown field 'colour'"),
        ({"and": [{"key": "A", "value": 1}, {"op": "eq"}]}, "filter.and[1]: a value filter needs a 'key'"),
        ({"and": []}, "filter.and: 'and' needs a non-empty list"),
        ({"not": {"key": "A", "value": 1}, "or": []}, "must be alone in its mapping"),
        (
            {"list-item": {"key": "L", "where": {"changed": "A"}}},
            "filter.list-item.where.changed: 'changed' compares",
        ),
        ({"list-item": {"key": "L", "as": "1x"}}, "filter.list-item.as: 'as' must be an identifier"),
        ({"is-new": "yes"}, "is-new needs true or false"),
        ([], "filter: an empty list of conditions"),
        ("A == 1", "expected a condition"),
    ],
)
def test_compile_errors_name_the_place(spec: Any, message: str) -> None:
    with pytest.raises(FilterError) as raised:
        compile_filter(spec)
    assert message in str(raised.value)

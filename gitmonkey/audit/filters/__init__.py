"""The YAML filter language: Cloud Custodian's value filters plus predicates on the change itself.

A filter compiles once (``compile_filter``) into a tree of nodes; evaluating it on an item returns
the list of ``Match``es, empty when the filter does not match. A match carries the JSON path of
what matched and the list elements bound on the way (``list-item`` / ``added-item``), so one rule
yields one finding per offending element. See docs/readme/rules.md for the reference.

Modules: ``base`` (errors, JMESPath, matches), ``ops`` (value comparisons and presence),
``conditions`` (and / or / not / list-item), ``changes`` (predicates on the previous version),
``related`` (conditions on the items an item names or that name it),
``compiler`` (spec to nodes, evaluation on a document) and ``templates`` (finding texts).
"""

from gitmonkey.audit.filters.base import (
    JMESPATH_OPTIONS,
    FilterError,
    Match,
    Node,
    Scope,
    canonical,
    compile_expression,
    parse_datetime,
    search,
)
from gitmonkey.audit.filters.changes import CHANGE_KEYWORDS, Changed, IsNew, ItemDelta, Previous
from gitmonkey.audit.filters.compiler import compile_filter, evaluate
from gitmonkey.audit.filters.conditions import And, ListItem, Not, Or
from gitmonkey.audit.filters.ops import (
    CONTEXT_VALUES,
    OP_ALIASES,
    OPS,
    PRESENCE,
    VALUE_TYPES,
    Presence,
    Value,
)
from gitmonkey.audit.filters.related import Related
from gitmonkey.audit.filters.templates import Template

__all__ = [
    "CHANGE_KEYWORDS",
    "CONTEXT_VALUES",
    "JMESPATH_OPTIONS",
    "OPS",
    "OP_ALIASES",
    "PRESENCE",
    "VALUE_TYPES",
    "And",
    "Changed",
    "FilterError",
    "IsNew",
    "ItemDelta",
    "ListItem",
    "Match",
    "Node",
    "Not",
    "Or",
    "Presence",
    "Previous",
    "Related",
    "Scope",
    "Template",
    "Value",
    "canonical",
    "compile_expression",
    "compile_filter",
    "evaluate",
    "parse_datetime",
    "search",
]

"""Loading rules: YAML rule files and directories, Python rule modules, and entry points.

Sources, in order: the built-in ``rules/`` folder, ``gitmonkey.audit.python_rules`` and ``iam_rules``, the
``audit.rule_dirs`` of gitmonkey.yaml, and the ``gitmonkey.rules`` entry point group
(``RuleSet.load`` puts them together).
"""

from __future__ import annotations

import hashlib
import types
from collections.abc import Iterable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import yaml

import gitmonkey.audit.filters as filters
from gitmonkey import yamlio
from gitmonkey.audit.context import AuditContext
from gitmonkey.audit.rule_model import CheckFunction, Hit, Rule, RuleError
from gitmonkey.audit.schemas import error_path, load_schema, schema_text
from gitmonkey.validation_cache import ValidationCache

ENTRY_POINT_GROUP = "gitmonkey.rules"
_RESERVED_NAMES = ("config", "document", "old", "new")


def rules_from_object(obj: Any, source: str) -> list[Rule]:
    """Rules from what an entry point names: a module, a decorated function, a Rule, a rule
    directory, an iterable of those, or a callable returning any of those."""
    if isinstance(obj, Rule):
        return [obj]
    if isinstance(obj, types.ModuleType):
        found = [v.gitmonkey_rule for v in vars(obj).values()
                 if isinstance(getattr(v, "gitmonkey_rule", None), Rule)]
        extra = getattr(obj, "RULES", ())
        return found + [r for item in extra for r in rules_from_object(item, source)]
    if isinstance(getattr(obj, "gitmonkey_rule", None), Rule):
        return [obj.gitmonkey_rule]
    if isinstance(obj, str | Path):
        return load_rule_dir(Path(obj))
    if callable(obj):
        return rules_from_object(obj(), source)
    if isinstance(obj, Iterable):
        return [r for item in obj for r in rules_from_object(item, source)]
    raise RuleError(f"{source}: {type(obj).__name__} is not a rule, a module of rules or a rule directory")


def _short_key(value: Any) -> str:
    text = filters.canonical(value)
    return text if len(text) <= 100 else hashlib.sha256(text.encode()).hexdigest()[:16]


def _yaml_check(node: filters.Node, title: str, details: filters.Template | None,
                key: filters.Template | None) -> CheckFunction:
    def check(document: dict, previous: dict | None, ctx: AuditContext) -> Iterable[Hit]:
        for match in filters.evaluate(node, document, previous, ctx):
            data = {"config": document.get("configuration"), "document": document, **match.bindings}
            element = list(match.bindings.values())[-1] if match.specific and match.bindings else None
            if details is not None:
                text = details.render(data)
            elif element is not None:
                text = _short_key(element)
            else:
                text = f"{title} ({match.path})"
            if key is not None:
                ident = key.render(data)
            else:
                ident = _short_key(element) if element is not None else ""
            yield Hit(details=text, path=match.path, key=ident)

    return check


def _rule_label(spec: Any, index: int) -> str:
    if isinstance(spec, Mapping) and isinstance(spec.get("id"), str):
        return f"rule {spec['id']!r}"
    return f"rule #{index + 1}"


def _compiled_check(spec: Mapping[str, Any]) -> CheckFunction:
    node = filters.compile_filter(spec["filter"])
    _check_names(spec["filter"])
    finding = spec.get("finding") or {}
    details = filters.Template(finding["details"], "finding.details") if "details" in finding else None
    key = filters.Template(finding["key"], "finding.key") if "key" in finding else None
    return _yaml_check(node, spec["title"], details, key)


def _deferred_check(spec: Mapping[str, Any]) -> CheckFunction:
    """The check, compiled when first run: the post-commit hook evaluates the rules of a few
    technologies, and need not compile the filters and templates of all of them. Only for a rule
    file whose content compiled and validated before (the same digest)."""
    compiled: list[CheckFunction] = []

    def check(document: dict, previous: dict | None, ctx: Any) -> Iterable[Hit]:
        if not compiled:
            compiled.append(_compiled_check(spec))
        return compiled[0](document, previous, ctx)

    return check


def _compile_rule(spec: Mapping[str, Any], source: str, *, deferred: bool = False) -> Rule:
    check = _deferred_check(spec) if deferred else _compiled_check(spec)
    return Rule(
        id=spec["id"],
        technology=spec["technology"],
        score=spec["score"],
        title=spec["title"],
        description=spec["description"].strip(),
        remediation=spec["remediation"].strip(),
        source=source,
        check=check,
        enabled=spec.get("enabled", True),
        kind="yaml",
        compares_versions=uses_change_keywords(spec["filter"]),
        compliance={str(k): tuple(v) for k, v in (spec.get("compliance") or {}).items()},
        weigh=spec.get("weigh", ""),
    )


def uses_change_keywords(spec: Any) -> bool:
    """Whether a filter compares versions: a change predicate at its top level (in a list of
    conditions or under and / or / not, the only places ``compile_filter`` allows one)."""
    if isinstance(spec, list):
        return any(uses_change_keywords(s) for s in spec)
    if not isinstance(spec, Mapping):
        return False
    if any(keyword in spec for keyword in filters.CHANGE_KEYWORDS):
        return True
    return any(uses_change_keywords(spec[k]) for k in ("and", "or", "not") if k in spec)


def _check_names(spec: Any, where: str = "filter") -> None:
    if isinstance(spec, list):
        for i, item in enumerate(spec):
            _check_names(item, f"{where}[{i}]")
    elif isinstance(spec, Mapping):
        for keyword, body in spec.items():
            if (keyword in ("list-item", "added-item", "removed-item") and isinstance(body, Mapping)
                    and body.get("as") in _RESERVED_NAMES):
                raise filters.FilterError(f"{where}.{keyword}.as", f"{body['as']!r} is a reserved name")
            if isinstance(body, list | Mapping):
                _check_names(body, f"{where}.{keyword}")


def load_rule_file(path: Path, cache: ValidationCache | None = None) -> list[Rule]:
    """Load one YAML rule file; any problem is a RuleError naming the file and the rule.

    With a ``cache``, the schema check is skipped for file contents that passed it before.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RuleError(f"{path}: cannot read: {exc.strerror}") from None
    digest = ValidationCache.digest(schema_text("rule.schema.json"), text)
    data = cache.parsed(digest) if cache is not None else None
    deferred = data is not None
    if data is None:
        data = _parsed_and_checked(path, text, validated=cache is not None and cache.known(digest))
    rules = []
    for index, spec in enumerate(data["rules"]):
        try:
            rules.append(_compile_rule(spec, str(path), deferred=deferred))
        except filters.FilterError as exc:
            raise RuleError(f"{path}: {_rule_label(spec, index)}: {exc}") from None
    if cache is not None:
        cache.remember(digest, data)
    return rules


def _parsed_and_checked(path: Path, text: str, *, validated: bool) -> Any:
    """The rule file's YAML, its filters compiled (for an error naming the rule) and, unless it
    ``validated`` before, checked against the rule schema."""
    try:
        data = yamlio.safe_load(text)
    except yaml.YAMLError as exc:
        raise RuleError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(data, Mapping) or not isinstance(data.get("rules"), list):
        raise RuleError(f"{path}: expected a mapping with a 'rules:' list")
    if validated:
        return data
    for index, spec in enumerate(data["rules"]):
        if isinstance(spec, Mapping) and "filter" in spec:
            try:
                filters.compile_filter(spec["filter"])
            except filters.FilterError as exc:
                raise RuleError(f"{path}: {_rule_label(spec, index)}: {exc}") from None
    import jsonschema

    validator = jsonschema.Draft202012Validator(load_schema("rule.schema.json"))
    error = jsonschema.exceptions.best_match(validator.iter_errors(data))
    if error is not None:
        parts = list(error.absolute_path)
        label = "file"
        if len(parts) >= 2 and parts[0] == "rules" and isinstance(parts[1], int):
            label = _rule_label(data["rules"][parts[1]], parts[1])
            parts = parts[2:]
        where = error_path(parts) or "(the rule)"
        raise RuleError(f"{path}: {label}: {where}: {error.message}")
    return data


def load_rule_dir(directory: Path, cache: ValidationCache | None = None) -> list[Rule]:
    if not directory.is_dir():
        raise RuleError(f"{directory}: rule directory does not exist")
    files = sorted(p for p in directory.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())
    return [r for path in files for r in load_rule_file(path, cache)]


ENTRY_POINTS_CACHE = "entry_points.json"


def entry_point_rules(state_dir: Path | None = None) -> list[Rule]:
    """The rules of the ``gitmonkey.rules`` entry points. With a ``state_dir``, the list of entry
    points is kept there and read back while no directory of ``sys.path`` has changed (installing
    or removing a package changes its site-packages directory): listing them through
    importlib.metadata reads every installed package's metadata, which the post-commit hook skips."""
    rules = []
    for name, value in _entry_points(ENTRY_POINT_GROUP, state_dir):
        source = f"entry point {name} ({value})"
        try:
            obj = _load_entry_point(value)
        except Exception as exc:
            raise RuleError(f"{source}: cannot load: {type(exc).__name__}: {exc}") from exc
        rules.extend(replace(r, source=f"{source}: {r.source}") for r in rules_from_object(obj, source))
    return rules


def _load_entry_point(value: str) -> Any:
    """``module`` or ``module:attribute.path``, as importlib.metadata's EntryPoint.load reads it."""
    import importlib

    module_name, _, attributes = value.partition(":")
    obj = importlib.import_module(module_name.strip())
    for attribute in filter(None, attributes.split("[", 1)[0].strip().split(".")):
        obj = getattr(obj, attribute)
    return obj


def _entry_points(group: str, state_dir: Path | None) -> list[tuple[str, str]]:
    import json
    import os
    import sys

    key = []
    for entry in sys.path:
        try:
            key.append([entry, os.stat(entry or ".").st_mtime_ns])
        except OSError:
            key.append([entry, None])
    path = state_dir / ENTRY_POINTS_CACHE if state_dir is not None else None
    if path is not None:
        try:
            cached = json.loads(path.read_text(encoding="utf-8"))
            if cached.get("key") == key and group in cached.get("groups", {}):
                return [(str(n), str(v)) for n, v in cached["groups"][group]]
        except (OSError, ValueError, AttributeError, TypeError):
            pass
    import importlib.metadata

    found = sorted({(ep.name, ep.value) for ep in importlib.metadata.entry_points(group=group)})
    if path is not None:
        import contextlib

        from gitmonkey.store.state import atomic_write

        with contextlib.suppress(OSError):  # a cache that cannot be written costs a scan next time
            atomic_write(path, json.dumps({"key": key, "groups": {group: found}}).encode("utf-8"))
    return found

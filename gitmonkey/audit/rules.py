"""Rules: the model, the loading of YAML and Python rules, overrides, and evaluation of one item.

Sources, in order: the built-in ``rules/`` folder and ``gitmonkey.audit.python_rules``, the
``audit.rule_dirs`` of gitmonkey.yaml, and the ``gitmonkey.rules`` entry point group. Rule ids are
unique across all of them; a clash is an error naming both sources.

A rule that raises on one item does not stop the audit: it yields a finding of the pseudo-rule
``gitmonkey.rule-error`` (score ``RULE_ERROR_SCORE``, key = the failing rule's id), so the failure is
visible as an issue of that item instead of silently hiding what the rule checks.
"""

from __future__ import annotations

import fnmatch
import hashlib
import ipaddress
import json
import logging
import types
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from gitmonkey import yamlio
from gitmonkey.audit import filters
from gitmonkey.audit.context import AuditContext
from gitmonkey.audit.filters.base import _NoMatch
from gitmonkey.validation_cache import ValidationCache

__all__ = [
    "RULE_ERROR_ID",
    "AuditContext",
    "Finding",
    "Hit",
    "Override",
    "Rule",
    "RuleError",
    "RuleSet",
    "load_rule_dir",
    "load_rule_file",
    "rule",
    "rules_from_object",
    "validate_audit_config",
]

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "gitmonkey.rules"
RULE_ERROR_ID = "gitmonkey.rule-error"
RULE_ERROR_SCORE = 1
_SCHEMA_DIR = Path(__file__).resolve().parent
_RESERVED_NAMES = ("config", "document", "old", "new")

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


@dataclass(frozen=True)
class Hit:
    """What a rule's check yields: one specific finding, before the rule's id, score and title."""

    details: str
    path: str
    key: str = ""


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
) -> Callable[[CheckFunction], CheckFunction]:
    """Register a Python check ``f(document, previous, ctx) -> Iterable[Hit]`` as a rule.

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
        )
        return func

    return decorate


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


def _schema_text(name: str) -> str:
    return (_SCHEMA_DIR / name).read_text(encoding="utf-8")


def _load_json(name: str) -> dict[str, Any]:
    return json.loads(_schema_text(name))


def _error_path(parts: Iterable[Any]) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def validate_audit_config(
    audit_config: Mapping[str, Any] | None, cache: ValidationCache | None = None
) -> dict[str, Any]:
    """Validate the ``audit:`` section against config.schema.json; returns it with account ids as str.

    Raises ConfigError naming the key path, e.g. ``audit.overrides[0].score: 'x' is not of type 'integer'``.
    """
    from gitmonkey.config import ConfigError

    config = dict(audit_config or {})
    known = config.get("known_accounts")
    if isinstance(known, Mapping):
        normalised = {}
        for key, value in known.items():
            if isinstance(key, int) and not isinstance(key, bool):
                if key < 10**11:
                    raise ConfigError(
                        f"audit.known_accounts.{key}: account ids must be quoted strings of 12 digits "
                        "(an unquoted id with a leading zero is read as a number)"
                    )
                key = str(key)
            normalised[key] = value
        config["known_accounts"] = normalised
    digest = ValidationCache.digest(_schema_text("config.schema.json"), json.dumps(config, sort_keys=True))
    if cache is None or not cache.known(digest):
        import jsonschema

        validator = jsonschema.Draft202012Validator(_load_json("config.schema.json"))
        error = jsonschema.exceptions.best_match(validator.iter_errors(config))
        if error is not None:
            where = _error_path(["audit", *error.absolute_path])
            raise ConfigError(f"{where}: {error.message}")
    for index, cidr in enumerate(config.get("trusted_cidrs") or ()):
        try:
            ipaddress.ip_network(cidr, strict=False)
        except ValueError:
            raise ConfigError(f"audit.trusted_cidrs[{index}]: {cidr!r} is not an IP network (CIDR)") from None
    if cache is not None:
        cache.remember(digest)
    return config


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


def _compile_rule(spec: Mapping[str, Any], source: str) -> Rule:
    node = filters.compile_filter(spec["filter"])
    _check_names(spec["filter"])
    finding = spec.get("finding") or {}
    details = filters.Template(finding["details"], "finding.details") if "details" in finding else None
    key = filters.Template(finding["key"], "finding.key") if "key" in finding else None
    return Rule(
        id=spec["id"],
        technology=spec["technology"],
        score=spec["score"],
        title=spec["title"],
        description=spec["description"].strip(),
        remediation=spec["remediation"].strip(),
        source=source,
        check=_yaml_check(node, spec["title"], details, key),
        enabled=spec.get("enabled", True),
        kind="yaml",
    )


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
        data = yamlio.safe_load(text)
    except OSError as exc:
        raise RuleError(f"{path}: cannot read: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise RuleError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(data, Mapping) or not isinstance(data.get("rules"), list):
        raise RuleError(f"{path}: expected a mapping with a 'rules:' list")
    for index, spec in enumerate(data["rules"]):
        if isinstance(spec, Mapping) and "filter" in spec:
            try:
                filters.compile_filter(spec["filter"])
            except filters.FilterError as exc:
                raise RuleError(f"{path}: {_rule_label(spec, index)}: {exc}") from None
    digest = ValidationCache.digest(_schema_text("rule.schema.json"), text)
    error = None
    if cache is None or not cache.known(digest):
        import jsonschema

        validator = jsonschema.Draft202012Validator(_load_json("rule.schema.json"))
        error = jsonschema.exceptions.best_match(validator.iter_errors(data))
    if error is not None:
        parts = list(error.absolute_path)
        label = "file"
        if len(parts) >= 2 and parts[0] == "rules" and isinstance(parts[1], int):
            label = _rule_label(data["rules"][parts[1]], parts[1])
            parts = parts[2:]
        where = _error_path(parts) or "(the rule)"
        raise RuleError(f"{path}: {label}: {where}: {error.message}")
    rules = []
    for index, spec in enumerate(data["rules"]):
        try:
            rules.append(_compile_rule(spec, str(path)))
        except filters.FilterError as exc:
            raise RuleError(f"{path}: {_rule_label(spec, index)}: {exc}") from None
    if cache is not None:
        cache.remember(digest)
    return rules


def load_rule_dir(directory: Path, cache: ValidationCache | None = None) -> list[Rule]:
    if not directory.is_dir():
        raise RuleError(f"{directory}: rule directory does not exist")
    files = sorted(p for p in directory.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())
    return [r for path in files for r in load_rule_file(path, cache)]


def _entry_point_rules() -> list[Rule]:
    import importlib.metadata

    rules = []
    for entry_point in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        source = f"entry point {entry_point.name} ({entry_point.value})"
        try:
            obj = entry_point.load()
        except Exception as exc:
            raise RuleError(f"{source}: cannot load: {type(exc).__name__}: {exc}") from exc
        rules.extend(replace(r, source=f"{source}: {r.source}") for r in rules_from_object(obj, source))
    return rules


@dataclass(frozen=True)
class Override:
    """One ``audit.overrides`` entry: a score or an enabled state for matching rules and accounts."""

    rule: str
    score: int | None = None
    disabled: bool | None = None
    accounts: tuple[str, ...] | None = None

    def matches(self, rule_id: str, account_id: str | None, account_name: str | None) -> bool:
        if not fnmatch.fnmatchcase(rule_id, self.rule):
            return False
        return self.accounts is None or account_id in self.accounts or account_name in self.accounts


class RuleSet:
    def __init__(self, rules: Iterable[Rule], overrides: Iterable[Override] = ()) -> None:
        self.rules: list[Rule] = []
        by_id: dict[str, Rule] = {}
        for item in rules:
            if item.id in by_id:
                raise RuleError(f"rule {item.id!r} is defined twice: in {by_id[item.id].source} "
                                f"and in {item.source}")
            by_id[item.id] = item
            self.rules.append(item)
        self.by_id = by_id
        self.overrides = tuple(overrides)
        from gitmonkey.config import ConfigError

        known = [*by_id, RULE_ERROR_ID]
        for index, override in enumerate(self.overrides):
            if not any(fnmatch.fnmatchcase(rule_id, override.rule) for rule_id in known):
                raise ConfigError(f"audit.overrides[{index}].rule: no rule matches {override.rule!r}")

    @classmethod
    def load(cls, audit_config: dict, *, base_dir: Path, cache: ValidationCache | None = None) -> RuleSet:
        """Built-in rules, then ``audit.rule_dirs`` (relative to ``base_dir``), then entry points.

        ``cache`` (see ``gitmonkey.validation_cache``) skips the schema checks of unchanged inputs.
        """
        from gitmonkey.audit import python_rules
        from gitmonkey.config import ConfigError
        from gitmonkey.resources import builtin_rules_dir

        config = validate_audit_config(audit_config, cache)
        rules = load_rule_dir(builtin_rules_dir(), cache)
        rules += rules_from_object(python_rules, "gitmonkey.audit.python_rules")
        for index, directory in enumerate(config.get("rule_dirs") or ()):
            path = (Path(base_dir) / directory).resolve()
            if not path.is_dir():
                raise ConfigError(f"audit.rule_dirs[{index}]: {path} is not a directory")
            rules += load_rule_dir(path, cache)
        rules += _entry_point_rules()
        if cache is not None:
            cache.save()
        overrides = [
            Override(
                rule=o["rule"],
                score=o.get("score"),
                disabled=o.get("disabled"),
                accounts=tuple(str(a) for a in o["accounts"]) if o.get("accounts") else None,
            )
            for o in config.get("overrides") or ()
        ]
        return cls(rules, overrides)

    def settings(self, rule: Rule, account_id: str | None = None,
                 account_name: str | None = None) -> tuple[bool, int]:
        """(enabled, score) of ``rule`` in an account after overrides; later overrides win."""
        enabled, score = rule.enabled, rule.score
        for override in self.overrides:
            if override.matches(rule.id, account_id, account_name):
                if override.disabled is not None:
                    enabled = not override.disabled
                if override.score is not None:
                    score = override.score
        return enabled, score

    def run_rule(self, rule: Rule, document: dict, previous: dict | None, ctx: AuditContext,
                 score: int | None = None) -> list[Finding]:
        """Run one rule (ignoring overrides); a crash becomes a ``gitmonkey.rule-error`` finding."""
        score = rule.score if score is None else score
        try:
            hits = list(rule.check(document, previous, ctx))
            bad = [h for h in hits if not isinstance(h, Hit)]
            if bad:
                raise TypeError(f"check yielded {type(bad[0]).__name__}, expected Hit")
        except Exception as exc:
            log.exception("rule %s failed on %s", rule.id, document.get("id"))
            error_enabled, error_score = self.settings_by_id(RULE_ERROR_ID, ctx)
            if not error_enabled:
                return []
            return [Finding(RULE_ERROR_ID, error_score, "Rule error",
                            f"rule {rule.id} ({rule.source}) failed: {type(exc).__name__}: {exc}"[:1024],
                            "", rule.id)]
        findings: list[Finding] = []
        seen: set[str] = set()
        for hit in hits:
            if hit.key in seen:
                continue
            seen.add(hit.key)
            findings.append(Finding(rule.id, score, rule.title, hit.details[:1024], hit.path, hit.key))
        return findings

    def settings_by_id(self, rule_id: str, ctx: AuditContext) -> tuple[bool, int]:
        enabled, score = True, RULE_ERROR_SCORE
        for override in self.overrides:
            if override.matches(rule_id, ctx.account_id, ctx.account_name):
                enabled = enabled if override.disabled is None else not override.disabled
                score = score if override.score is None else override.score
        return enabled, score

    def evaluate(self, document: dict, previous: dict | None, ctx: AuditContext) -> list[Finding]:
        """Findings of every enabled rule for ``document``'s technology, with overridden scores."""
        technology = document.get("technology") or ""
        findings: list[Finding] = []
        for item in self.rules:
            if not item.applies_to(technology):
                continue
            enabled, score = self.settings(item, ctx.account_id, ctx.account_name)
            if enabled:
                findings.extend(self.run_rule(item, document, previous, ctx, score))
        return findings

    def test_file(self, path: Path) -> list[str]:
        """Run a rule case file (``fires:`` / ``passes:`` items); returns failures, empty if all pass."""
        path = Path(path)
        try:
            data = yamlio.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            return [f"{path}: cannot read: {exc}"]
        if not isinstance(data, Mapping):
            return [f"{path}: expected a mapping with 'fires:' and 'passes:' lists"]
        rule_id = data.get("rule", path.stem)
        target = self.by_id.get(rule_id)
        if target is None:
            return [f"{path}: no rule {rule_id!r}"]
        try:
            ctx = _case_context(data.get("context"))
        except (TypeError, ValueError, _NoMatch) as exc:
            return [f"{path}: context: {exc or 'bad value'}"]
        failures = []
        for section, should_fire in (("fires", True), ("passes", False)):
            cases = data.get(section)
            if not isinstance(cases, list) or not cases:
                failures.append(f"{path}: needs a non-empty '{section}:' list")
                continue
            for index, case in enumerate(cases):
                where = f"{path}: {section}[{index}]"
                if not isinstance(case, Mapping) or not isinstance(case.get("configuration"), Mapping):
                    failures.append(f"{where}: needs a 'configuration:' mapping")
                    continue
                failures.extend(_run_case(self, target, case, ctx, should_fire, where))
        return failures


DEFAULT_CASE_CONTEXT: dict[str, Any] = {
    "account_id": "123456789012",
    "account_name": "test",
    "known_accounts": {
        "111111111111": {"name": "partner", "type": "friendly",
                         "canonical_id": "1" * 64},
        "222222222222": {"name": "vendor", "type": "third_party",
                         "canonical_id": "2" * 64},
    },
    "trusted_cidrs": ["10.0.0.0/8", "52.94.0.0/16"],
    "now": "2024-06-01T00:00:00Z",
}


def _case_context(spec: Mapping[str, Any] | None) -> AuditContext:
    values = {**DEFAULT_CASE_CONTEXT, **(spec or {})}
    return AuditContext(
        account_id=str(values["account_id"]),
        account_name=str(values["account_name"]),
        known_accounts={str(k): dict(v) for k, v in values["known_accounts"].items()},
        trusted_cidrs=tuple(values["trusted_cidrs"]),
        now=filters.parse_datetime(values["now"]),
    )


def _case_document(target: Rule, case: Mapping[str, Any], configuration: Any, ctx: AuditContext) -> dict:
    item_id = str(case.get("id", "test-item"))
    return {
        "account": ctx.account_id,
        "arn": case.get("arn", f"arn:aws:test::{ctx.account_id}:{item_id}"),
        "configuration": configuration,
        "id": item_id,
        "name": case.get("name", item_id),
        "region": case.get("region", "us-east-1"),
        "technology": case.get("technology", target.technology),
    }


def _run_case(ruleset: RuleSet, target: Rule, case: Mapping[str, Any], ctx: AuditContext,
              should_fire: bool, where: str) -> list[str]:
    document = _case_document(target, case, case["configuration"], ctx)
    previous = (_case_document(target, case, case["previous"], ctx)
                if case.get("previous") is not None else None)
    findings = ruleset.run_rule(target, document, previous, ctx)
    errors = [f for f in findings if f.rule_id == RULE_ERROR_ID]
    if errors:
        return [f"{where}: {errors[0].details}"]
    if not should_fire:
        return [f"{where}: expected no finding, got {[f.details for f in findings]}"] if findings else []
    if not findings:
        return [f"{where}: expected a finding, got none"]
    failures = []
    keys, paths, details = (sorted(f.key for f in findings), sorted(f.path for f in findings),
                            [f.details for f in findings])
    if "keys" in case and keys != sorted(str(k) for k in case["keys"]):
        failures.append(f"{where}: expected keys {sorted(case['keys'])}, got {keys}")
    if "paths" in case and paths != sorted(case["paths"]):
        failures.append(f"{where}: expected paths {sorted(case['paths'])}, got {paths}")
    for expected in case.get("details", []):
        if not any(expected in text for text in details):
            failures.append(f"{where}: no finding's details contain {expected!r}: {details}")
    return failures

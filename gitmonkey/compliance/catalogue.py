"""Loading the framework catalogues shipped in ``gitmonkey/compliance/<framework>.yaml``."""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

CATALOGUE_DIR = Path(__file__).resolve().parent
SCHEMA_PATH = CATALOGUE_DIR / "catalogue.schema.json"


class CatalogueError(Exception):
    """An unknown framework, or a catalogue file that does not match its schema."""


@dataclass(frozen=True)
class Control:
    id: str
    title: str
    section: str | None = None
    service: str | None = None
    level: int | None = None
    assessment: str | None = None
    """``"automated"`` or ``"manual"`` (CIS); a manual control is never decided by a rule."""
    severity: str | None = None
    retired: bool = False

    @property
    def manual(self) -> bool:
        return self.assessment == "manual"

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v not in (None, False)}


@dataclass(frozen=True)
class Catalogue:
    framework: str
    title: str
    version: str
    controls: tuple[Control, ...]

    @functools.cached_property
    def by_id(self) -> dict[str, Control]:
        return {c.id: c for c in self.controls}

    def __contains__(self, control_id: object) -> bool:
        return control_id in self.by_id


def known_frameworks() -> tuple[str, ...]:
    """The frameworks with a catalogue in the package, e.g. ``("cis-aws-3.0", "fsbp")``."""
    return tuple(sorted(p.stem for p in CATALOGUE_DIR.glob("*.yaml")))


@functools.cache
def _schema() -> dict[str, Any]:
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


@functools.cache
def load_catalogue(framework: str) -> Catalogue:
    """The catalogue of ``framework``; raises ``CatalogueError`` if unknown or malformed."""
    if framework not in known_frameworks():
        raise CatalogueError(f"unknown framework {framework!r} (known: {', '.join(known_frameworks())})")
    import jsonschema  # here: the CLI lists the frameworks at start-up, and must start fast

    path = CATALOGUE_DIR / f"{framework}.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    try:
        jsonschema.validate(data, _schema())
    except jsonschema.ValidationError as exc:
        where = "/".join(str(p) for p in exc.absolute_path)
        raise CatalogueError(f"{path.name}: {where}: {exc.message}") from exc
    if data["framework"] != framework:
        raise CatalogueError(f"{path.name}: framework is {data['framework']!r}, expected {framework!r}")
    controls = tuple(Control(**c) for c in data["controls"])
    seen: set[str] = set()
    for control in controls:
        if control.id in seen:
            raise CatalogueError(f"{path.name}: control {control.id!r} is listed twice")
        seen.add(control.id)
    return Catalogue(framework, data["title"], str(data["version"]), controls)


def unknown_controls(rules: Iterable[Any]) -> list[str]:
    """Problems of the ``compliance`` declarations of ``rules``: unknown frameworks or control ids."""
    problems = []
    known = set(known_frameworks())
    for rule in rules:
        for framework, ids in sorted((getattr(rule, "compliance", None) or {}).items()):
            if framework not in known:
                problems.append(f"rule {rule.id}: unknown framework {framework!r}")
                continue
            catalogue = load_catalogue(framework)
            problems += [f"rule {rule.id}: {framework} has no control {i!r}"
                         for i in ids if i not in catalogue]
    return problems

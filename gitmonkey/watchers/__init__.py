"""The watcher registry: every module here (not starting with ``_``) is one AWS service.

A module exports ``TECHNOLOGIES: tuple[Technology, ...]``; each technology is named
``<module>.<type>``. Adding a technology touches one module and its test, nothing else.

Other packages add technologies through the ``gitmonkey.watchers`` entry point group: each entry
point names a module (or any object) with a ``TECHNOLOGIES`` tuple, whose technologies are named
``<service>.<type>`` with a service of their own (not one of gitmonkey's modules), e.g.
``acme.parameter``. See docs/readme/watchers.md, "Watchers from other packages".
"""

from __future__ import annotations

import importlib
import importlib.metadata
import pkgutil
import re
from typing import Any

from gitmonkey.model import Technology

ENTRY_POINT_GROUP = "gitmonkey.watchers"
_NAME = re.compile(r"[a-z0-9]+\.[a-z0-9_]+")


class RegistryError(RuntimeError):
    """A watcher module that breaks the registry's rules (duplicate or misnamed technology)."""


def _discover() -> list[Technology]:
    found: list[Technology] = []
    builtin = [m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_")]
    for name in builtin:
        module = importlib.import_module(f"{__name__}.{name}")
        for tech in _technologies_of(module, f"watcher module {module.__name__}"):
            if "." not in tech.name or tech.service != name:
                raise RegistryError(
                    f"technology {tech.name!r} in {module.__name__} must be named '{name}.<type>'"
                )
            found.append(tech)
    return found + _plugin_technologies(set(builtin))


def _technologies_of(obj: Any, source: str) -> tuple[Technology, ...]:
    technologies = getattr(obj, "TECHNOLOGIES", None)
    if not isinstance(technologies, tuple):
        raise RegistryError(f"{source} has no TECHNOLOGIES tuple")
    for tech in technologies:
        if not isinstance(tech, Technology):
            raise RegistryError(f"{source}: TECHNOLOGIES holds a {type(tech).__name__}")
    return technologies


def _plugin_technologies(builtin_services: set[str]) -> list[Technology]:
    """The technologies of the ``gitmonkey.watchers`` entry points; a broken one is an error that
    names it (a watcher that silently did not load would look like an account without items)."""
    found = []
    for entry_point in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        source = f"entry point {entry_point.name} ({entry_point.value})"
        try:
            obj = entry_point.load()
        except Exception as exc:
            raise RegistryError(f"{source}: cannot load: {type(exc).__name__}: {exc}") from exc
        for tech in _technologies_of(obj, source):
            if not _NAME.fullmatch(tech.name):
                raise RegistryError(f"{source}: technology {tech.name!r} must be named '<service>.<type>'")
            if tech.service in builtin_services:
                raise RegistryError(f"{source}: technology {tech.name!r} uses gitmonkey's own service "
                                    f"{tech.service!r}; name it after a service of its own")
            found.append(tech)
    return found


def all_technologies() -> dict[str, Technology]:
    """Every technology of every watcher module, keyed and sorted by name."""
    result: dict[str, Technology] = {}
    for tech in sorted(_discover(), key=lambda t: t.name):
        if tech.name in result:
            raise RegistryError(f"technology {tech.name!r} is declared twice")
        result[tech.name] = tech
    return result


def always_returned() -> dict[str, tuple[str, ...]]:
    """Every technology's ``always_returned`` members, merged per ``service:Operation``."""
    merged: dict[str, set[str]] = {}
    for tech in all_technologies().values():
        for operation, members in tech.always_returned.items():
            merged.setdefault(operation, set()).update(members)
    return {operation: tuple(sorted(members)) for operation, members in sorted(merged.items())}


def get_technology(name: str) -> Technology:
    """The technology called ``name``; a ``ValueError`` naming the known ones otherwise."""
    technologies = all_technologies()
    try:
        return technologies[name]
    except KeyError:
        known = ", ".join(technologies) or "(none)"
        raise ValueError(f"unknown technology {name!r}; known technologies: {known}") from None

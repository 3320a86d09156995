"""The watcher registry: every module here (not starting with ``_``) is one AWS service.

A module exports ``TECHNOLOGIES: tuple[Technology, ...]``; each technology is named
``<module>.<type>``. Adding a technology touches one module and its test, nothing else.
"""

from __future__ import annotations

import importlib
import pkgutil

from gitmonkey.model import Technology


class RegistryError(RuntimeError):
    """A watcher module that breaks the registry's rules (duplicate or misnamed technology)."""


def _discover() -> list[Technology]:
    found: list[Technology] = []
    for module_info in pkgutil.iter_modules(__path__):
        if module_info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{module_info.name}")
        technologies = getattr(module, "TECHNOLOGIES", None)
        if not isinstance(technologies, tuple):
            raise RegistryError(f"watcher module {module.__name__} has no TECHNOLOGIES tuple")
        for tech in technologies:
            if not isinstance(tech, Technology):
                raise RegistryError(f"{module.__name__}.TECHNOLOGIES holds a {type(tech).__name__}")
            if "." not in tech.name or tech.service != module_info.name:
                raise RegistryError(
                    f"technology {tech.name!r} in {module.__name__} must be named '{module_info.name}.<type>'"
                )
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

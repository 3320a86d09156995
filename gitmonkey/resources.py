"""Locate the files shipped beside the package: built-in rules and git hooks.

In a built wheel they live in ``gitmonkey/_builtin/``; in a source checkout (editable
install, tests) they are the top-level ``rules/`` and ``hooks/`` folders.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def _shipped(name: str) -> Path:
    installed = _PACKAGE / "_builtin" / name
    if installed.is_dir():
        return installed
    return _PACKAGE.parent / name


def builtin_rules_dir() -> Path:
    return _shipped("rules")


def hooks_dir() -> Path:
    return _shipped("hooks")


def schema_path(name: str) -> Path:
    return _PACKAGE / "schemas" / name

"""JSON Schema checks of the ``audit:`` config section and of rule files (schemas beside this module)."""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from gitmonkey.validation_cache import ValidationCache

_SCHEMA_DIR = Path(__file__).resolve().parent


def schema_text(name: str) -> str:
    return (_SCHEMA_DIR / name).read_text(encoding="utf-8")


def load_schema(name: str) -> dict[str, Any]:
    return json.loads(schema_text(name))


def error_path(parts: Iterable[Any]) -> str:
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
    digest = ValidationCache.digest(schema_text("config.schema.json"), json.dumps(config, sort_keys=True))
    if cache is None or not cache.known(digest):
        import jsonschema

        validator = jsonschema.Draft202012Validator(load_schema("config.schema.json"))
        error = jsonschema.exceptions.best_match(validator.iter_errors(config))
        if error is not None:
            where = error_path(["audit", *error.absolute_path])
            raise ConfigError(f"{where}: {error.message}")
    for index, cidr in enumerate(config.get("trusted_cidrs") or ()):
        try:
            ipaddress.ip_network(cidr, strict=False)
        except ValueError:
            raise ConfigError(f"audit.trusted_cidrs[{index}]: {cidr!r} is not an IP network (CIDR)") from None
    if cache is not None:
        cache.remember(digest)
    return config

"""Finding templates: text with ``{...}`` JMESPath placeholders over a match's bindings."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from gitmonkey.audit.filters.base import FilterError, compile_expression, search

_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([^{}]+)\}")


class Template:
    """``"{perm.IpProtocol} from {range.CidrIp}"``: each ``{...}`` is a JMESPath over the bindings.

    Names available: the ``as`` names of list-item / added-item (the element), of related (the
    related item's whole document: ``{profile.id}``, ``{profile.configuration.Roles[0].RoleName}``),
    ``old`` / ``new`` of changed, ``config`` (the configuration), ``document`` (the whole item).
    ``{{`` and ``}}`` are braces.
    """

    def __init__(self, text: Any, where: str) -> None:
        if not isinstance(text, str):
            raise FilterError(where, f"expected a template string, got {text!r}")
        self.text = text
        self.parts: list[str | Any] = []
        position = 0
        for found in _PLACEHOLDER.finditer(text):
            self.parts.append(text[position:found.start()])
            token = found.group(0)
            if token in ("{{", "}}"):
                self.parts.append(token[0])
            else:
                self.parts.append(compile_expression(found.group(1).strip(), f"{where} {token}"))
            position = found.end()
        self.parts.append(text[position:])

    def render(self, data: Mapping[str, Any]) -> str:
        out = []
        for part in self.parts:
            if isinstance(part, str):
                out.append(part)
                continue
            value = search(part, data)
            if value is None:
                out.append("")
            elif isinstance(value, str):
                out.append(value)
            else:
                out.append(json.dumps(value, sort_keys=True, separators=(",", ":"), default=str))
        return "".join(out)

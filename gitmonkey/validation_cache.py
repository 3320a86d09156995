"""Remember which inputs already validated, so the post-commit hook need not validate them again.

Validating the configuration and the rule files with jsonschema costs more than the rest of a
one-item audit (importing jsonschema alone is ~0.1 s). The digest of each input that validated,
together with the package version and the schema it was checked against, is kept in a JSON file
in ``.git/gitmonkey/`` (outside history). Any change to an input, a schema or the version gives
a new digest and a full validation.

A rule file's parsed content is kept too (``parsed``): parsing the YAML of every rule file costs
the hook more than reading the same data back as JSON. Only the entries of the files read by the
last load that parsed anything are kept.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from gitmonkey import __version__


class ValidationCache:
    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._digests: set[str] = set()
        self._parsed: dict[str, Any] = {}
        self._used: set[str] = set()
        self._dirty = False
        self._parsed_dirty = False
        if path is not None:
            try:
                stored = json.loads(path.read_text(encoding="utf-8"))
                if isinstance(stored, list):  # the format before parsed contents were kept
                    stored = {"digests": stored}
                self._digests = {str(d) for d in stored.get("digests") or ()}
                parsed = stored.get("parsed")
                self._parsed = dict(parsed) if isinstance(parsed, dict) else {}
            except (OSError, ValueError, TypeError, AttributeError):
                self._digests, self._parsed = set(), {}

    @staticmethod
    def digest(*parts: bytes | str) -> str:
        h = hashlib.sha256(__version__.encode())
        for part in parts:
            data = part.encode() if isinstance(part, str) else part
            h.update(len(data).to_bytes(8, "big"))
            h.update(data)
        return h.hexdigest()

    def known(self, digest: str) -> bool:
        return digest in self._digests

    def remember(self, digest: str, parsed: Any = None) -> None:
        """``digest`` validated; ``parsed``, if given, is the input's parsed content (kept only if
        JSON gives it back unchanged)."""
        if digest not in self._digests:
            self._digests.add(digest)
            self._dirty = True
        if parsed is not None:
            self._used.add(digest)
            if digest not in self._parsed:
                try:
                    if json.loads(json.dumps(parsed)) != parsed:
                        return
                except (TypeError, ValueError):
                    return
                self._parsed[digest] = parsed
                self._parsed_dirty = True

    def parsed(self, digest: str) -> Any:
        """The parsed content remembered for a validated ``digest``, or None."""
        if digest in self._digests and digest in self._parsed:
            self._used.add(digest)
            return self._parsed[digest]
        return None

    def save(self) -> None:
        """Best effort: a cache that cannot be written only costs a validation next time."""
        if self.path is None or not (self._dirty or self._parsed_dirty):
            return
        from gitmonkey.store.state import atomic_write

        if self._parsed_dirty:
            self._parsed = {d: v for d, v in self._parsed.items() if d in self._used}
        stored = {"digests": sorted(self._digests), "parsed": self._parsed}
        try:
            atomic_write(self.path, json.dumps(stored, sort_keys=True).encode("utf-8"))
            self._dirty = self._parsed_dirty = False
        except OSError:
            pass

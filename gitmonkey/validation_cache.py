"""Remember which inputs already validated, so the post-commit hook need not validate them again.

Validating the configuration and the rule files with jsonschema costs more than the rest of a
one-item audit (importing jsonschema alone is ~0.1 s). The digest of each input that validated,
together with the package version and the schema it was checked against, is kept in a JSON file
in ``.git/gitmonkey/`` (outside history). Any change to an input, a schema or the version gives
a new digest and a full validation.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from gitmonkey import __version__


class ValidationCache:
    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._digests: set[str] = set()
        self._dirty = False
        if path is not None:
            try:
                self._digests = set(json.loads(path.read_text(encoding="utf-8")))
            except (OSError, ValueError, TypeError):
                self._digests = set()

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

    def remember(self, digest: str) -> None:
        if digest not in self._digests:
            self._digests.add(digest)
            self._dirty = True

    def save(self) -> None:
        """Best effort: a cache that cannot be written only costs a validation next time."""
        if self.path is None or not self._dirty:
            return
        from gitmonkey.store.state import atomic_write

        try:
            atomic_write(self.path, json.dumps(sorted(self._digests)).encode("utf-8"))
            self._dirty = False
        except OSError:
            pass

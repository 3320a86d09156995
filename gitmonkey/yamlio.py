"""Safe YAML loading, with libyaml's C parser when PyYAML was built with it.

``yaml.safe_load`` parses in pure Python; the same safe constructor over the C parser
(``CSafeLoader``) is several times faster, which matters in the post-commit hook and when the
audit reads thousands of issue files. Only safe loaders are ever used. Dumping stays with PyYAML's
pure-Python ``safe_dump`` so that files written by the bot are byte-identical on every machine.
"""

from __future__ import annotations

from typing import Any

import yaml

_SafeLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def safe_load(text: str) -> Any:
    return yaml.load(text, Loader=_SafeLoader)  # noqa: S506 (a safe loader, C or Python)


def compose(text: str) -> yaml.Node | None:
    """The node tree (with line numbers), for checks such as duplicate keys."""
    return yaml.compose(text, Loader=_SafeLoader)

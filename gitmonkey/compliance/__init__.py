"""Compliance frameworks: the catalogues of controls (CIS AWS Foundations v3.0, AWS FSBP) and the
per-account compliance report built from the rules that declare them (``compliance:`` in a rule).

A catalogue is data shipped in this package (``<framework>.yaml``), validated against
``catalogue.schema.json`` when loaded. See docs/readme/compliance.md.
"""

from __future__ import annotations

from gitmonkey.compliance.catalogue import (
    Catalogue,
    CatalogueError,
    Control,
    known_frameworks,
    load_catalogue,
    unknown_controls,
)

__all__ = [
    "Catalogue",
    "CatalogueError",
    "Control",
    "known_frameworks",
    "load_catalogue",
    "unknown_controls",
]

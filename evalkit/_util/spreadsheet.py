"""Cells a spreadsheet would run: a CSV cell that starts like a formula is neutralised, so model output
opened in Excel, LibreOffice or Google Sheets stays text."""

from __future__ import annotations

from typing import Any

__all__ = ["neutralise"]

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: Any) -> Any:
    """Prefix ``'`` to a string a spreadsheet would run as a formula; anything else unchanged."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value

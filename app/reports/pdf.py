"""PDF reports (reportlab): the monthly report of an area and a company's impact report.

Chinese text uses reportlab's built-in CID font STSong-Light (Adobe's Simplified Chinese
font set): nothing to install and nothing embedded, every PDF reader has a substitute.
Both reports take the same plain figures as their web pages; neither ever receives a
household's name, ID number, phone or address.
"""

from __future__ import annotations

import io
from typing import Any

from flask_babel import gettext as _
from reportlab.graphics.charts.barcharts import VerticalBarChart
from reportlab.graphics.shapes import Drawing
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

FONT = "STSong-Light"
pdfmetrics.registerFont(UnicodeCIDFont(FONT))

TITLE = ParagraphStyle("title", fontName=FONT, fontSize=18, leading=24, spaceAfter=6)
HEADING = ParagraphStyle("heading", fontName=FONT, fontSize=13, leading=18, spaceBefore=10)
BODY = ParagraphStyle("body", fontName=FONT, fontSize=10, leading=14)
TABLE_STYLE = TableStyle(
    [
        ("FONTNAME", (0, 0), (-1, -1), FONT),
        ("FONTSIZE", (0, 0), (-1, -1), 9),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#FDE8E4")),
        ("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#CBD2D9")),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
    ]
)


def _table(rows: list[list[Any]], widths: list[float] | None = None) -> Table:
    cells = [
        [Paragraph(str(v), BODY) if isinstance(v, str) and len(v) > 18 else v for v in row]
        for row in rows
    ]
    table = Table(cells, colWidths=widths, repeatRows=1)
    table.setStyle(TABLE_STYLE)
    return table


def _bars(labels: list[str], series: list[list[int]], names: list[str]) -> Drawing:
    drawing = Drawing(170 * mm, 60 * mm)
    chart = VerticalBarChart()
    chart.x, chart.y, chart.width, chart.height = 12 * mm, 10 * mm, 150 * mm, 45 * mm
    chart.data = series or [[0]]
    chart.categoryAxis.categoryNames = labels or [""]
    chart.categoryAxis.labels.fontName = FONT
    chart.categoryAxis.labels.fontSize = 7
    chart.valueAxis.labels.fontName = FONT
    chart.valueAxis.valueMin = 0
    palette = [colors.HexColor("#C05621"), colors.HexColor("#2B6CB0"), colors.HexColor("#2F855A")]
    for index in range(len(series)):
        chart.bars[index].fillColor = palette[index % len(palette)]
    drawing.add(chart)
    legend = "  ".join(f"■ {name}" for name in names)
    from reportlab.graphics.shapes import String

    drawing.add(String(12 * mm, 56 * mm, legend, fontName=FONT, fontSize=8))
    return drawing


def _document(story: list[Any]) -> bytes:
    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer, pagesize=A4, leftMargin=18 * mm, rightMargin=18 * mm, topMargin=16 * mm
    )
    document.build(story)
    return buffer.getvalue()


def monthly_report_pdf(report: dict[str, Any]) -> bytes:
    """The monthly report of an area (see ``services.monthly_report``)."""
    data = report["summary"]
    story: list[Any] = [
        Paragraph(
            _(
                "Monthly report: %(area)s, %(month)s",
                area=data["area"]["name"],
                month=report["month"],
            ),
            TITLE,
        ),
        Paragraph(_("Figures as of %(when)s.", when=report["as_of"] or "—"), BODY),
        Paragraph(_("Needs collected and resolved"), HEADING),
    ]
    rows = data["needs"]
    story.append(
        _table(
            [[_("Kind of need"), _("Collected needs"), _("Published"), _("Resolved")]]
            + [[r["label"], r["collected"], r["published"], r["resolved"]] for r in rows]
        )
    )
    if rows:
        story.append(
            _bars(
                [r["label"] for r in rows],
                [[r["collected"] for r in rows], [r["resolved"] for r in rows]],
                [_("Collected needs"), _("Resolved")],
            )
        )
    durations = data["durations"]
    story += [
        Paragraph(_("Time from publication"), HEADING),
        _table(
            [[" ", _("Needs"), _("Median"), _("90th percentile")]]
            + [
                [
                    name,
                    durations[key]["count"],
                    report["waiting"](durations[key]["median_hours"]),
                    report["waiting"](durations[key]["p90_hours"]),
                ]
                for key, name in (("claim", _("to claim")), ("confirm", _("to confirmation")))
            ]
        ),
        Paragraph(_("Traffic lights of needs"), HEADING),
        _table([[_("Light"), _("Needs")]] + [[r["label"], r["count"]] for r in data["lights"]]),
        Paragraph(_("Help given"), HEADING),
        _table(
            [
                [_("Cash (yuan)"), f"{data['value']['cash_yuan']:.2f}"],
                [_("In kind (yuan)"), data["value"]["in_kind_yuan"]],
                [_("Volunteer hours"), data["value"]["volunteer_hours"]],
                [_("Confirmed claims"), data["value"]["confirmed_claims"]],
            ]
        ),
        Paragraph(_("Top organisations"), HEADING),
        _table(
            [[_("Organisation"), _("Confirmed claims"), _("In kind (yuan)"), _("Volunteer hours")]]
            + [
                [o["name"], o["confirmed_claims"], o["in_kind_yuan"], o["volunteer_hours"]]
                for o in data["top_organisations"]
            ]
        ),
        Paragraph(_("Longest overdue"), HEADING),
        _table(
            [["#", _("Need"), _("District"), _("Why"), _("Since")]]
            + [
                [o["id"], o["title"], o["district"], o["why"], o["since"]]
                for o in report["overdue"]
            ]
        ),
        Spacer(1, 6 * mm),
        Paragraph(_("Households are never named in this report."), BODY),
    ]
    return _document(story)


def impact_pdf(report: dict[str, Any]) -> bytes:
    """A company's or team's impact report (see ``services.impact_figures``)."""
    story: list[Any] = [
        Paragraph(_("Impact report: %(name)s", name=report["name"]), TITLE),
        Paragraph(report["period"], BODY),
        Spacer(1, 4 * mm),
        _table(
            [
                [_("Households helped"), report["households"]],
                [_("Needs"), report["needs"]],
                [_("Value (yuan)"), report["value_yuan"]],
                [_("Volunteer hours"), report["hours"]],
            ]
        ),
        Paragraph(_("What was given"), HEADING),
        _table(
            [[_("Date"), _("What"), _("Need"), _("District"), _("Value (yuan)"), _("Hours")]]
            + report["lines"],
            [22 * mm, 22 * mm, 55 * mm, 35 * mm, 20 * mm, 16 * mm],
        ),
        Spacer(1, 6 * mm),
        Paragraph(
            _(
                "Counts of fewer than %(n)s households are shown as “<%(n)s” to protect "
                "the families.",
                n=report["small_cell"],
            ),
            BODY,
        ),
    ]
    return _document(story)

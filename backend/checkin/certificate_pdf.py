"""The certificate as a one-page A4 PDF (reportlab, with the CID font STSong-Light so that
Chinese renders in any PDF reader without embedding a font file).

A ``Paragraph`` reads its text as reportlab's markup (``<a href>``, ``<img src>``, ``<font>``),
so every value put into one goes through ``_markup_safe`` first: names are the residents'
own text, and must print as text — not as a link, an image from the server's disk, or a
crash.
"""

from __future__ import annotations

import io
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.platypus import Image, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from backend.checkin.codes import qr_png
from backend.common.cells import clean_text

FONT = "STSong-Light"
pdfmetrics.registerFont(UnicodeCIDFont(FONT))

_TITLE = ParagraphStyle("title", fontName=FONT, fontSize=22, leading=30, alignment=1)
_BODY = ParagraphStyle("body", fontName=FONT, fontSize=12, leading=20)
_SMALL = ParagraphStyle("small", fontName=FONT, fontSize=9, leading=13)


def render(content: dict[str, Any], verification_code: str, verify_url: str) -> bytes:
    buffer = io.BytesIO()
    document = SimpleDocTemplate(buffer, pagesize=A4, title="志愿服务证明",
                                 leftMargin=20 * mm, rightMargin=20 * mm)
    text = {key: _markup_safe(value) for key, value in content.items()
            if isinstance(value, str)}
    document.build([
        Paragraph(text["title"], _TITLE), Spacer(1, 8 * mm),
        Paragraph(_statement(content, text), _BODY), Spacer(1, 6 * mm),
        _items_table(content["items"]), Spacer(1, 8 * mm),
        Paragraph(f"出具单位：{text['street']}{text['community']}居民委员会", _BODY),
        Paragraph(f"出具人：{text['issued_by']}　出具时间：{text['issued_at'][:10]}", _BODY),
        Spacer(1, 6 * mm),
        Image(io.BytesIO(qr_png(verify_url)), width=30 * mm, height=30 * mm, hAlign="LEFT"),
        Paragraph(f"验证编号：{_markup_safe(verification_code)}", _BODY),
        Paragraph(f"扫码或访问 {_markup_safe(verify_url)} 核验本证明的真实性。", _SMALL),
    ])
    return buffer.getvalue()


def _markup_safe(value: str) -> str:
    """Text for a Paragraph: markup characters escaped, unprintable ones dropped."""
    return escape(clean_text(value))


def _statement(content: dict[str, Any], text: dict[str, str]) -> str:
    period = content["period"]
    span = ""
    if period["from"] or period["to"]:
        span = _markup_safe(f"于{(period['from'] or '')[:10]}至{(period['to'] or '')[:10]}期间")
    return (f"兹证明 {text['volunteer']} 同志{span}在本社区参加志愿服务"
            f"{len(content['items'])}次，累计服务时长{content['total_hours']}小时"
            f"（{content['total_minutes']}分钟），特此证明。")


def _items_table(items: list[dict[str, Any]]) -> Table:
    # Table cells given as plain strings are drawn as text (no markup); controls dropped.
    rows = [["日期", "活动", "服务队", "时长(小时)", "审核人"]]
    rows += [[item["date"], clean_text(item["activity"])[:18], clean_text(item["team"])[:10],
              f"{item['hours']:g}", clean_text(item["approver"])[:8]] for item in items]
    table = Table(rows, colWidths=[26 * mm, 58 * mm, 34 * mm, 24 * mm, 28 * mm], repeatRows=1)
    table.setStyle(TableStyle([
        ("FONTNAME", (0, 0), (-1, -1), FONT), ("FONTSIZE", (0, 0), (-1, -1), 10),
        ("GRID", (0, 0), (-1, -1), 0.5, colors.grey),
        ("BACKGROUND", (0, 0), (-1, 0), colors.whitesmoke),
    ]))
    return table

"""Every CSV and XLSX export writes its cells through here (SPEC §3: exports are safe to
open).

Text that residents chose (names, refs, plates) may look like a formula to a spreadsheet
(``=HYPERLINK(…)``, ``+1``, ``@SUM``) or hold characters a workbook cannot store (openpyxl
refuses C0 controls with ``IllegalCharacterError``). So: control characters are dropped
from every text cell; in CSV a formula-looking cell is quoted with a leading ``'`` (OWASP's
advice: the reader shows it as text); in XLSX it is written as a typed string cell, which
Excel and LibreOffice never evaluate, with the quote prefix style so that editing it keeps
it text.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

# Fullwidth forms too: some spreadsheet locales read ＝ as =.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n", "＝", "＋", "－", "＠")
# C0/C1 controls but tab and line breaks, and lone surrogates (not encodable as UTF-8).
_UNWRITABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


def clean_text(value: str) -> str:
    """``value`` without the characters no workbook or UTF-8 file can hold."""
    return _UNWRITABLE.sub("", value)


def is_formula_like(value: str) -> bool:
    return value.startswith(FORMULA_START)


def csv_cell(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    value = clean_text(value)
    return "'" + value if is_formula_like(value) else value


def csv_chunks(rows: Iterable[list[Any]], every: int = 1000) -> Iterator[str]:
    """CSV text chunk by chunk (for streaming), with a BOM so that Excel reads it as UTF-8."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write("\ufeff")
    for count, row in enumerate(rows, start=1):
        writer.writerow([csv_cell(value) for value in row])
        if count % every == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def csv_bytes(rows: Iterable[list[Any]]) -> bytes:
    return "".join(csv_chunks(rows)).encode()


def xlsx_cell(sheet: WriteOnlyWorksheet, value: Any) -> Any:
    if not isinstance(value, str):
        return value
    cell = WriteOnlyCell(sheet, clean_text(value))
    if cell.data_type == "f" or is_formula_like(cell.value):
        cell.data_type = "s"  # openpyxl makes any "=…" a formula cell; this one is text
        cell.quotePrefix = True
    return cell


def xlsx_bytes(title: str, rows: Iterable[list[Any]]) -> bytes:
    """One sheet named ``title`` holding ``rows``, every text cell through ``xlsx_cell``."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(clean_text(title)[:31])
    for row in rows:
        sheet.append([xlsx_cell(sheet, value) for value in row])
    output = io.BytesIO()
    workbook.save(output)
    return output.getvalue()

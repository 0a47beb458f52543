"""The one .xlsx writer: a one-sheet workbook (or a report's few sheets, write_sheets) with a
bold header row and formulas neutralised, written row by row (openpyxl's write-only mode) into a
temporary file, so that an export of 200,000 customers never holds the workbook, or its rows, in
memory."""
import tempfile

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter

HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")
HEADER_FONT = Font(bold=True)
#: A workbook up to this size stays in memory; a bigger one spills to a file on disk.
SPOOL_BYTES = 4 * 1024 * 1024


def safe(value):
    """A cell value that a spreadsheet will not run as a formula (= + - @ at the start)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def _add_sheet(workbook, title, headers, rows):
    """A sheet of `rows` (any iterable of lists, read once) under a bold `headers` row;
    returns the number of rows."""
    sheet = workbook.create_sheet(str(title)[:31])
    for index, header in enumerate(headers, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = max(10, len(str(header)) * 2 + 2)
    sheet.freeze_panes = "A2"
    header_row = []
    for header in headers:
        cell = WriteOnlyCell(sheet, value=str(header))
        cell.font, cell.fill = HEADER_FONT, HEADER_FILL
        header_row.append(cell)
    sheet.append(header_row)
    count = 0
    for row in rows:
        sheet.append([safe(value) for value in row])
        count += 1
    return count


def _saved(workbook):
    out = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)
    workbook.save(out)
    out.seek(0)
    return out


def stream_workbook(title, headers, rows):
    """Write `rows` (any iterable of lists, read once) under `headers` into a temporary file.
    Returns (the file, rewound; the number of rows). The caller closes the file (send_file does
    once the response is sent)."""
    workbook = Workbook(write_only=True)
    count = _add_sheet(workbook, title, headers, rows)
    return _saved(workbook), count


def write_workbook(title, headers, rows):
    """A small workbook (a report's table, the import template) as bytes."""
    out, _count = stream_workbook(title, headers, rows)
    with out:
        return out.read()


def write_sheets(sheets):
    """A small workbook of several sheets, [(title, headers, rows)] in order, as bytes."""
    workbook = Workbook(write_only=True)
    for title, headers, rows in sheets:
        _add_sheet(workbook, title, headers, rows)
    with _saved(workbook) as out:
        return out.read()

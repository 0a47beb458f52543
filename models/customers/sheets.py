"""The rows of an uploaded .xlsx, read fast enough for 100,000 rows (issue 26 "Speed").

openpyxl's read-only mode parses each cell into a dict, then a cell object: some 25 µs a cell,
most of a dry run of a large file. The cells old spreadsheets are made of — a shared or inline
string, a plain number — are read here straight from the XML element (about half the time);
anything else (a formula, a date, a boolean, an error, rich text) goes through openpyxl's own
parser, so every value is what openpyxl gives. Relies on openpyxl's worksheet parser
(`openpyxl.worksheet._reader`, pinned in requirements.txt); tests/models/test_sheets.py reads
a workbook of every kind of cell both ways and compares.

Nor is the sheet measured first: openpyxl's read-only worksheet, when it is made, looks for the
sheet's <dimension> and, in a file without one (openpyxl's own write-only files, some exporters),
parses the whole sheet to find out it has none — here the workbook's parts are read as
openpyxl reads them, then the first worksheet's rows, once.
"""
import io
from dataclasses import dataclass

from openpyxl.reader.excel import ExcelReader
from openpyxl.styles.stylesheet import apply_stylesheet
from openpyxl.utils import column_index_from_string
from openpyxl.worksheet._reader import (INLINE_STRING, ROW_TAG, VALUE_TAG, WorkSheetParser,
                                        _cast_number)
from openpyxl.xml.constants import SHEET_MAIN_NS
from openpyxl.xml.functions import iterparse

TEXT_TAG = "{%s}t" % SHEET_MAIN_NS
DIGITS = "0123456789"


@dataclass(frozen=True)
class Formula:
    """A cell that holds a formula: refused, never calculated (the value Excel last showed may
    be stale, or missing when another program wrote the file)."""
    text: str


#: A cell not read the short way: openpyxl's parser reads it.
_LONG_WAY = object()


class _Parser(WorkSheetParser):
    """openpyxl's parser with a short way through the common cells."""

    def parse_row(self, row):
        """(row number, [cell values by column]) of a <row> element, as WorkSheetParser's
        parse_row numbers it and its cells; the common cells read here."""
        number = row.get("r")
        if number is None or not number.isdecimal():  # no number, or "5.0": openpyxl's way
            number, cells = super().parse_row(row)
            values = [None] * max((cell["column"] for cell in cells), default=0)
            for cell in cells:
                values[cell["column"] - 1] = cell["value"]
            return number, values
        self.row_counter, self.col_counter = int(number), 0
        values = []
        for element in row:
            value = self._short(element)
            if value is _LONG_WAY:
                cell = self.parse_cell(element)
                column, value = cell["column"], cell["value"]
            elif coordinate := element.get("r"):
                column = column_index_from_string(coordinate.rstrip(DIGITS))
            else:
                column = self.col_counter + 1
            self.col_counter = column
            if column > len(values):
                values += [None] * (column - len(values))
            values[column - 1] = value
        return self.row_counter, values

    def _short(self, element):
        """The value of a shared or inline string or a plain number, or _LONG_WAY."""
        if len(element) == 1:
            child = element[0]
            kind = element.get("t", "n")
            if child.tag == VALUE_TAG:
                if kind == "s":
                    return self.shared_strings[int(child.text)]
                if kind == "n" and child.text is not None:
                    style = element.get("s")
                    if not style or int(style) not in self.date_formats:
                        return _cast_number(child.text)
            elif kind == "inlineStr" and child.tag == INLINE_STRING and len(child) == 1 \
                    and child[0].tag == TEXT_TAG:
                return child[0].text or ""
        return _LONG_WAY

    def parse_cell(self, element):
        if (value := self._short(element)) is not _LONG_WAY:
            return self._cell(element, value)
        cell = super().parse_cell(element)
        if cell["data_type"] == "f":
            value = cell["value"]
            cell["value"] = Formula(value if isinstance(value, str)
                                    else getattr(value, "text", None) or "={…}")
        return cell

    def _cell(self, element, value):
        if coordinate := element.get("r"):
            self.col_counter = column_index_from_string(coordinate.rstrip(DIGITS))
        else:
            self.col_counter += 1
        return {"column": self.col_counter, "value": value}


def read_sheet(content):
    """The rows of the first sheet of an .xlsx, as (row number, [cell values]): a formula
    cell's value a Formula, a date cell's a datetime, rows without cells skipped. Raises what
    openpyxl raises for a file that is not an .xlsx (the caller explains)."""
    reader = _Workbook(io.BytesIO(content), read_only=True)
    try:
        path = reader.first_sheet()
    except BaseException:
        reader.archive.close()
        raise
    return _rows(reader, path)


class _Workbook(ExcelReader):
    """openpyxl's reader of a workbook (ExcelReader.read), but its sheets only found, not made:
    the first worksheet's part."""

    def first_sheet(self):
        self.read_manifest()
        self.read_strings()
        self.read_workbook()
        self.read_properties()
        self.read_custom()
        self.read_theme()
        apply_stylesheet(self.archive, self.wb)
        # As ExcelReader.read_worksheets, and Workbook.worksheets[0]: no chartsheet.
        for _sheet, rel in self.parser.find_sheets():
            if rel.target in self.valid_files and "chartsheet" not in rel.Type:
                return rel.target
        raise ValueError("The workbook has no worksheet.")


def _rows(reader, path):
    workbook = reader.wb
    try:
        with reader.archive.open(path) as source:
            parser = _Parser(source, reader.shared_strings, data_only=False,
                             epoch=workbook.epoch, date_formats=workbook._date_formats,
                             timedelta_formats=workbook._timedelta_formats)
            for _event, element in iterparse(source):  # the rows only (WorkSheetParser.parse)
                if element.tag == ROW_TAG:
                    number, row = parser.parse_row(element)
                    element.clear()
                    yield number, row
    finally:
        reader.archive.close()

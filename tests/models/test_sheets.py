"""Reading an uploaded .xlsx (models.customers.sheets): the short way through the common cells
gives what openpyxl's read-only mode gives, for every kind of cell."""
import io
from datetime import date, datetime, time

from openpyxl import Workbook, load_workbook
from openpyxl.worksheet.formula import ArrayFormula

from models.customers.sheets import Formula, read_sheet


def test_every_kind_of_cell_reads_as_openpyxl_reads_it():
    for write_only in (False, True):  # shared strings, and inline strings
        book = Workbook(write_only=write_only)
        sheet = book.create_sheet() if write_only else book.active
        sheet.append(["姓名", "手机号", "生日", "金额", "勿扰", "备注"])
        sheet.append(["张秀兰", "13800000001", date(1952, 3, 8), 12.5, True, "=不是公式"])
        sheet.append(["王老师", 13800000002, datetime(1950, 1, 2, 3, 4), -3, False, None])
        sheet.append([None, None, None, None, None, None])  # a blank row
        sheet.append(["李大爷", "=A2&B2", time(8, 30), 1e20, "#N/A", "  腊月初八 "])
        if not write_only:
            sheet["G5"] = ArrayFormula("G5:G5", "=SUM(D2:D3)")
            sheet["H2"] = "=ROW()-1"
        out = io.BytesIO()
        book.save(out)
        content = out.getvalue()
        expected = []
        reader = load_workbook(io.BytesIO(content), read_only=True)
        for cells in reader.worksheets[0].iter_rows():
            row = [Formula(cell.value if isinstance(cell.value, str) else cell.value.text)
                   if cell.data_type == "f" else cell.value for cell in cells]
            while row and row[-1] is None:
                row.pop()
            expected.append(row)
        reader.close()
        got = {number: row for number, row in read_sheet(content)}
        assert [got.get(n, []) for n in range(1, len(expected) + 1)] == expected
        assert got[2][:2] == ["张秀兰", "13800000001"] and got[3][1] == 13800000002
        assert got[5][1] == Formula("=A2&B2")


def test_a_sheet_without_cell_references_or_dimension_reads_as_openpyxl_reads_it():
    """Some exporters write no r="B2" on cells and rows and no <dimension>: cells count from
    the left, rows from the top, a gap kept where a cell says where it is."""
    import re
    import zipfile
    book = Workbook()
    sheet = book.active
    sheet.append(["姓名", "手机号", "金额"])
    sheet.append(["张秀兰", "13800000001", 12.5])
    sheet.append(["王老师", None, 3])
    sheet["E3"] = "远处"
    out = io.BytesIO()
    book.save(out)
    source, stripped = zipfile.ZipFile(io.BytesIO(out.getvalue())), io.BytesIO()
    with zipfile.ZipFile(stripped, "w") as target:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                text = data.decode()
                text = re.sub(r"<dimension [^>]*/>", "", text)
                text = re.sub(r'<row r="\d+"', "<row", text)
                text = re.sub(r'<c r="[A-D]\d+"', "<c", text)  # E3 keeps its place
                data = text.encode()
            target.writestr(item, data)
    content = stripped.getvalue()
    reader = load_workbook(io.BytesIO(content), read_only=True)
    expected = [[cell.value for cell in cells] for cells in reader.worksheets[0].iter_rows()]
    reader.close()
    got = [row for _number, row in read_sheet(content)]
    assert [row + [None] * (len(expected[0]) - len(row)) for row in got] == expected
    assert got[2] == ["王老师", 3, None, None, "远处"]  # B3 was never written: 3 is next
    assert [number for number, _row in read_sheet(content)] == [1, 2, 3]

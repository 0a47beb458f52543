"""The one .xlsx writer (reports/xlsx.py) and the streamed customer export: what the user opens
in Excel is what they may see — names as written, phones in full where they may see them in
full and masked (138****8000) where the list masks them."""
import io

from openpyxl import load_workbook

from formatting import masked_phone
from models import customer_import as imports, customers as c
from models.customers import Customer
from models.settings import update_settings
from reports.xlsx import stream_workbook, write_workbook
from tests.factories import make_customer, make_user


def test_the_writer_writes_a_header_row_and_neutralises_formulas():
    content = write_workbook("顾客", ["姓名", "手机号"], [["=1+1", "13800138000"], [None, 5]])
    sheet = load_workbook(io.BytesIO(content)).active
    assert sheet.title == "顾客" and sheet.freeze_panes == "A2" and sheet["A1"].font.b
    assert list(sheet.values) == [("姓名", "手机号"), ("'=1+1", "13800138000"), (None, 5)]


def test_streamed_rows_are_read_once_and_counted():
    rows = ([i, f"顾客{i}"] for i in range(2500))  # a generator: it can only be read once
    out, count = stream_workbook("顾客", ["编号", "姓名"], rows)
    with out:
        sheet = load_workbook(out, read_only=True).active
        values = list(sheet.values)
    assert count == 2500 and len(values) == 2501 and values[-1] == (2499, "顾客2499")


def test_export_rows_read_in_batches_keep_the_lists_order(db):
    owner = make_user(["manager"])
    marketer = make_user(["marketer"])
    made = [make_customer(marketer, name=f"顾客{i}") for i in range(7)]
    query = c.visible_customers(owner).order_by(Customer.id)
    rows = list(imports.export_rows(query, actor=owner, batch=3))
    assert [row[:2] for row in rows] == [[x.id, x.name] for x in made]


def test_an_exported_workbook_round_trips_as_the_user_sees_it(db, client, login):
    """A marketer allowed to export: their own customer's phone in full, a public-pool
    customer's masked, as on the list."""
    manager = make_user(["manager"])
    update_settings({"customers.export_roles": ["manager", "marketer"]}, actor=manager)
    me = login("marketer")
    mine = make_customer(me, name="张秀兰", phone="13800001111")
    pooled = make_customer(make_user(["marketer"]), name="李桂英", phone="13900002222")
    c.release_to_pool([pooled.id], actor=manager, reason="测试")
    db.session.flush()
    response = client.post("/customers/export.xlsx", data={"q": ""})
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.data)).active
    rows = {row[1]: row for row in list(sheet.values)[1:]}
    assert rows["张秀兰"][0] == mine.id and rows["张秀兰"][3] == "13800001111"
    assert rows["李桂英"][3] == masked_phone(pooled.phone) == "139****2222"
    assert "13900002222" not in str(list(sheet.values))

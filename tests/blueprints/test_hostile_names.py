"""A customer named `=2+3<script>…` and a marketer named `@SUM(…)<b>…`: every page shows the
names as text (escaped), every PDF prints them literally, every .xlsx export holds them as text
with no formula (cells starting with = + - @ are neutralised)."""
import io
import subprocess

from openpyxl import load_workbook

from tests.factories import make_user
from tests.world import build_world, fill, sign_in_as

CUSTOMER = "=2+3<script>alert(1)</script>"
MARKETER = "@SUM(9)<b>刘</b>"
FORMULA_STARTS = ("=", "+", "-", "@")


def pdf_text(data):
    return subprocess.run(["pdftotext", "-layout", "-", "-"], input=data, capture_output=True,
                          check=True).stdout.decode()


def xlsx_cells(data):
    workbook = load_workbook(io.BytesIO(data))
    return [cell for sheet in workbook for row in sheet.iter_rows() for cell in row
            if cell.value is not None]


def test_hostile_names_are_text_on_pages_in_pdfs_and_in_spreadsheets(app, client, db):
    world = build_world(customer_name=CUSTOMER, marketer_name=MARKETER)
    everyone = make_user(["admin", "manager", "dept_head", "marketer", "event_staff",
                          "warehouse", "finance"], department=world.users["head1"].department)
    sign_in_as(client, everyone)
    seen = {"html": [], "pdf": [], "xlsx": []}
    responses = []
    for rule in app.url_map.iter_rules():
        if "GET" in rule.methods and rule.endpoint not in ("static", "auth.logout"):
            responses.append((rule.endpoint, client.get(fill(rule, world.ids),
                                                        query_string={"q": "2+3"})))
    responses.append(("customers.export", client.post("/customers/export.xlsx")))
    for endpoint, response in responses:
        data = response.get_data()
        response.close()
        if response.mimetype == "text/html":
            html = data.decode()
            assert "<script>alert" not in html and "<b>刘" not in html, endpoint
            if "=2+3&lt;script&gt;alert(1)&lt;/script&gt;" in html or \
                    "@SUM(9)&lt;b&gt;刘&lt;/b&gt;" in html:
                seen["html"].append(endpoint)
        elif response.mimetype == "application/pdf":
            text = pdf_text(data)
            if CUSTOMER in text or MARKETER in text:
                seen["pdf"].append(endpoint)
        elif response.mimetype.endswith("spreadsheetml.sheet"):
            cells = xlsx_cells(data)
            assert not [c.coordinate for c in cells if c.data_type == "f"], endpoint
            assert not [c.value for c in cells if isinstance(c.value, str)
                        and c.value.startswith(FORMULA_STARTS)], endpoint
            if any(c.value in (f"'{CUSTOMER}", f"'{MARKETER}") for c in cells):
                seen["xlsx"].append(endpoint)
    assert len(seen["html"]) > 20, seen["html"]
    assert {"orders.receipt", "custody.slip", "points.slip"} <= set(seen["pdf"]), seen["pdf"]
    assert {"customers.export", "gifts.ledger_xlsx", "reports.performance_xlsx",
            "reports.event_roi_xlsx"} <= set(seen["xlsx"]), seen["xlsx"]

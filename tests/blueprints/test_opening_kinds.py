"""Every opening kind over HTTP (issue 26, Done when): an old-style sheet (phones with dashes and
+86, dates as 2025.3.8 or Excel day numbers, amounts with ¥ and thousands, stray columns) goes
through upload → columns → dry run → confirm, and the balances are then read back where a clerk
would look for them: the arrears list and the customer's page, the stock page, the product list,
the customer's timeline and grade, a new account's first sign-in — and `check-ledgers` is clean."""
import io
from datetime import timedelta


from models import opening
from models.base import utcnow
from models.clock import local_day
from models.ledgers import check_ledgers
from tests.conftest import page_text
from tests.factories import xlsx_sheet
from tests.factories import (make_customer, make_department, make_product, make_user,
                             make_warehouse)


def sheet(headers, rows):
    return xlsx_sheet(rows, headers)


def ledgers_clean():
    return all(problems == [] for problems in check_ledgers().values())


def import_sheet(client, code, content, columns, *, mode="all", filename="老系统.xlsx"):
    """Upload, map (columns: field → column index), dry run, confirm; returns (dry run text,
    the result page's text)."""
    uploaded = client.post(f"/opening/{code}/upload",
                           data={"file": (io.BytesIO(content), filename)},
                           content_type="multipart/form-data")
    assert uploaded.status_code == 302 and "/columns" in uploaded.location, page_text(uploaded)
    kind = opening.KINDS[code]
    mapping = {f"col_{f.key}": str(columns.get(f.key, -1)) for f in kind.fields}
    mapped = client.post(uploaded.location, data=mapping)
    assert mapped.status_code == 302, page_text(mapped)[:400]
    dry = page_text(client.get(mapped.location))
    done = client.post(mapped.location, data={"mode": mode})
    assert done.status_code == 302, page_text(done)[:400]
    return dry, page_text(client.get(done.location))


def test_old_debts_are_owed_on_the_arrears_list_and_the_customer_page(db, client, login):
    marketer = make_user(["marketer"], username="lixia", display_name="李霞")
    wang = make_customer(marketer, name="王大爷", phone="13800000001")
    zhao = make_customer(marketer, name="赵奶奶", phone="13800000002")
    login("finance")
    content = sheet(["电话", "单号", "日期", "欠款", "约定还款日", "顾问", "备注"], [
        ["+86 138 0000 0001", "LD-2025-0311", "2025.3.11", "¥1,200.50", "2026.1.31", "李霞", "老账"],
        ["138-0000-0002", "LD-2025-0420", 45767, "800", None, "lixia", None],
        ["13999990000", "LD-x", "2025.4.1", "100", None, None, "查无此人"],
    ])
    dry, result = import_sheet(client, "arrears", content, {
        "customer": 0, "number": 1, "taken_on": 2, "amount": 3, "due_date": 4, "marketer": 5},
        mode="good")
    assert "待导入：2" in dry and "有误：1" in dry and "13999990000" in dry
    assert "已导入" in result
    arrears = page_text(client.get("/orders/arrears"))
    assert "王大爷" in arrears and "1,200.50" in arrears
    assert "赵奶奶" in arrears and "800.00" in arrears
    client.post("/auth/logout")
    login("manager")
    assert "1,200.50" in page_text(client.get(f"/customers/{wang.id}"))
    assert "800.00" in page_text(client.get(f"/customers/{zhao.id}"))
    assert ledgers_clean()


def test_opening_stock_is_on_the_stock_page_with_its_batch_and_expiry(db, client, login):
    make_product("灵芝孢子粉", sku="LZ-01", unit="盒")
    make_warehouse("总仓", code="MAIN")
    login("manager")
    content = sheet(["商品编码", "仓库", "批号", "有效期至", "库存数量", "进价"], [
        ["LZ-01", "总仓", "B2025-07", "2027.6.30", "120", "¥85.00"],
        ["没有这个", "总仓", "B1", "2027.6.30", "5", "1"],
    ])
    dry, result = import_sheet(client, "stock", content, {
        "product": 0, "warehouse": 1, "batch": 2, "expiry": 3, "quantity": 4, "unit_cost": 5},
        mode="good")
    assert "待导入：1" in dry and "有误：1" in dry and "没有这个" in dry
    stock = page_text(client.get("/inventory/"))
    assert "灵芝孢子粉" in stock and "120" in stock
    moves = page_text(client.get("/inventory/moves"))
    assert "B2025-07" in moves
    assert ledgers_clean()


def test_products_and_their_prices_are_on_the_product_list(db, client, login):
    login("manager")
    content = sheet(["货号", "品名", "单位", "规格", "零售价", "成本价", "备注"], [
        ["NJ-01", "纳豆激酶胶囊", "瓶", "60粒", "¥1,980", "420", "主推"],
        ["NJ-02", "深海鱼油", "瓶", "100粒", "680.00", "150", None],
        ["NJ-01", "重复的编码", "瓶", None, "1", "1", None],
    ])
    dry, result = import_sheet(client, "products", content, {
        "sku": 0, "name": 1, "unit": 2, "specification": 3, "sale_price": 4,
        "standard_cost": 5}, mode="good")
    assert "待导入：2" in dry and "有误：1" in dry
    products = page_text(client.get("/inventory/products"))
    assert "纳豆激酶胶囊" in products and "1,980.00" in products and "深海鱼油" in products
    assert "重复的编码" not in products


def test_past_purchases_are_on_the_timeline_and_make_the_grade(db, client, login):
    from jobs import customers as job_customers
    marketer = make_user(["marketer"], username="lixia", display_name="李霞")
    wang = make_customer(marketer, name="王大爷", phone="13800000001")
    make_product("灵芝孢子粉", sku="LZ-01", unit="盒")
    today = local_day(utcnow())
    first, second = today - timedelta(days=120), today - timedelta(days=40)
    login("manager")
    content = sheet(["手机", "购买日期", "产品", "数量", "成交金额", "顾问"], [
        ["13800000001", f"{first.year}.{first.month}.{first.day}", "灵芝孢子粉", "3盒",
         "¥6,960", "李霞"],
        ["13800000001", f"{second:%Y年%-m月%-d日}", "LZ-01", 2, "3,980.00", "lixia"],
    ])
    dry, result = import_sheet(client, "history", content, {
        "customer": 0, "bought_on": 1, "product": 2, "quantity": 3, "amount": 4,
        "marketer": 5})
    assert "待导入：2" in dry and "有误：0" in dry
    page = page_text(client.get(f"/customers/{wang.id}"))
    assert "灵芝孢子粉" in page and "6,960.00" in page and "3,980.00" in page
    job_customers.grading(today)  # the nightly grading, as the scheduler runs it
    db.session.commit()
    page = page_text(client.get(f"/customers/{wang.id}"))
    assert "A 级" in page or "等级 A" in page or "A级" in page, page[:1500]
    assert "10,940" in page  # why: what was paid in the window, past purchases included
    arrears = page_text(client.get("/orders/arrears"))
    assert "王大爷" not in arrears  # a past purchase owes nothing and is not a sale
    assert ledgers_clean()


def test_imported_staff_sign_in_and_must_set_their_own_password(db, client, login):
    make_department("一部")
    login("admin")
    content = sheet(["姓名", "登录名", "部门", "岗位", "手机", "初始密码"], [
        ["王小明", "wangxm", "一部", "业务员", "139 0000 0001", "Start2026"],
        ["李二", "wangxm", "一部", "业务员", None, "Start2026"],
    ])
    dry, result = import_sheet(client, "users", content, {
        "name": 0, "username": 1, "department": 2, "roles": 3, "phone": 4, "password": 5},
        mode="good")
    assert "待导入：1" in dry and "有误：1" in dry
    assert "Start2026" not in dry and "Start2026" not in result  # a password is never shown
    users = page_text(client.get("/admin/users"))
    assert "王小明" in users and "李二" not in users
    client.post("/auth/logout")
    signed = client.post("/auth/login", data={"username": "wangxm", "password": "Start2026"})
    assert signed.status_code == 302
    assert client.get("/customers/").location.endswith("/auth/password")


def test_a_file_that_is_not_a_spreadsheet_is_refused_in_chinese(db, client, login):
    login("finance")
    response = client.post("/opening/arrears/upload",
                           data={"file": (io.BytesIO(b"name,phone\n"), "old.csv")},
                           content_type="multipart/form-data")
    assert response.status_code == 422
    assert ".xlsx" in page_text(response)
    assert opening.batches() == []

"""Every opening kind over HTTP (issue 26, Done when): an old-style sheet (phones with dashes and
+86, dates as 2025.3.8 or Excel day numbers, amounts with ¥ and thousands, stray columns) goes
through upload → columns → dry run → confirm, and the balances are then read back where a clerk
would look for them: the arrears list and the customer's page, the stock page, the product list,
the customer's timeline and grade, a new account's first sign-in — and `check-ledgers` is clean.
A company moving in end to end (customers with §2's quirks, then their debts, points and goods
held) is read back in the finance report (debts by age, goods held at cost, points outstanding),
the points and custody pages and the stock page's custody shelf; the same file twice writes
nothing; a debts import is rolled back from its page; a formula is refused at the upload."""
import io
from datetime import timedelta

from sqlalchemy import select


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


# --- A whole company moving in, read back in the reports ------------------------------------

def serial(day):
    """The Excel day number of `day` (what a date cell saved by an old sheet holds)."""
    from datetime import date
    return (day - date(1899, 12, 30)).days


def import_customers(client, content, columns):
    """The customer import's screens: upload, map, dry run, confirm (all or nothing)."""
    from models import customer_import
    uploaded = client.post("/customers/import",
                           data={"file": (io.BytesIO(content), "老客户名单.xlsx")},
                           content_type="multipart/form-data")
    assert uploaded.status_code == 302 and "/map" in uploaded.location, page_text(uploaded)
    mapping = {f"col_{f.key}": str(columns.get(f.key, -1)) for f in customer_import.IMPORT_FIELDS}
    mapped = client.post(uploaded.location, data=mapping)
    assert mapped.status_code == 302, page_text(mapped)[:400]
    dry = page_text(client.get(mapped.location))
    done = client.post(mapped.location)
    assert done.status_code == 302, page_text(done)[:400]
    return dry, page_text(client.get(done.location))


def section(text, start, end):
    """The part of a page's text from `start` to `end` (a table read on its own)."""
    begin = text.index(start)
    return text[begin:text.index(end, begin + len(start))]


def test_a_company_moves_in_and_every_balance_is_where_a_clerk_looks(db, client, login, runner):
    """A manager brings the old company's sheets in, one kind after another, through the
    screens: the customers (phones with spaces and +86, 1950.3.8, an Excel day number, lunar
    words, an age), then their debts, points and goods held, each file with one bad row and
    imported in the good-rows mode. The finance report ages the debts, values the goods held
    at cost and counts the points; the points page, the custody page and the stock page (the
    custody shelf) show them; the same file again writes nothing; `check-ledgers` is clean."""
    from blueprints.admin.commands import check_ledgers_command
    from models import customers as c
    from models import points
    from tests.factories import company_today
    department = make_department("销售一部")
    lixia = make_user(["marketer"], username="lixia", display_name="李霞",
                      department=department)
    make_warehouse("总仓", code="MAIN")
    make_product("灵芝孢子粉", sku="LZ-01", unit="盒")
    today = company_today()
    login("manager")

    # The customers, as the old list keeps them.
    dry, result = import_customers(client, sheet(
        ["客户姓名", "联系电话", "出生日期", "农历生日", "岁数", "顾问", "备注"], [
            ["张阿姨", "+86 138 0000 0001", "1950.3.8", "腊月初八", None, "lixia", "老会员"],
            ["王老师", "139-0000-0002", 18330, None, None, "李霞", None],
            ["李大爷", "0086 136 0000 0003", None, "闰四月初五", "75岁", "lixia", None]]),
        {"name": 0, "phone": 1, "birthday": 2, "lunar_birthday": 3, "age": 4, "owner": 5,
         "notes": 6})
    assert "新建：3" in dry and "有误：0" in dry, dry[:1500]
    zhang, wang, li = (c.find_by_phone(p) for p in ("13800000001", "13900000002",
                                                    "13600000003"))
    assert zhang.owner_id == wang.owner_id == li.owner_id == lixia.id
    assert (zhang.lunar_month, zhang.lunar_day) == (12, 8) and wang.birthday.isoformat() == \
        "1950-03-08" and (li.lunar_leap, li.birth_year_estimated) == (True, True)

    # Their debts: phones written otherwise than in the customer list, dates as old sheets do.
    debts = sheet(["电话", "单号", "开单日期", "欠款金额", "约定还款日", "顾问"], [
        ["138 0000 0001", "LD-0311", "2025.3.11", "¥1,200.50", serial(today - timedelta(days=45)),
         "李霞"],
        ["+86 139-0000-0002", "LD-0420", serial(today - timedelta(days=200)), "800",
         f"{today.year + 1}.1.31", "lixia"],
        ["13999990000", "LD-x", "2025.4.1", "100", None, None]])
    arrears_columns = {"customer": 0, "number": 1, "taken_on": 2, "amount": 3, "due_date": 4,
                       "marketer": 5}
    dry, result = import_sheet(client, "arrears", debts, arrears_columns, mode="good")
    assert "待导入：2" in dry and "有误：1" in dry and "找不到手机号或编号为 13999990000 的顾客" in dry
    # Their points: one balance below zero.
    earned = today - timedelta(days=30)
    dry, result = import_sheet(client, "points", sheet(["会员电话", "积分", "获得日期"], [
        ["138-0000-0001", "1,500", f"{earned.year}.{earned.month}.{earned.day}"],
        ["13900000002", 300, serial(earned)],
        ["13600000003", -5, None]]), {"customer": 0, "balance": 1, "earned_on": 2},
        mode="good")
    assert "待导入：2" in dry and "有误：1" in dry and "积分余额须大于零" in dry
    # The goods held for them: one product the company never had.
    dry, result = import_sheet(client, "custody", sheet(
        ["手机号", "商品", "未领数量", "是否已付", "寄存日期", "进价"], [
            ["+86 139 0000 0002", "LZ-01", "6盒", "是", "2025.9.20", "¥85.00"],
            ["13900000002", "灵芝孢子粉", 1, "否", serial(today - timedelta(days=10)), "85"],
            ["13800000001", "XX-999", 1, "是", None, None]]),
        {"customer": 0, "product": 1, "quantity": 2, "is_paid": 3, "held_since": 4,
         "unit_cost": 5}, mode="good")
    assert "待导入：2" in dry and "有误：1" in dry and "XX-999" in dry

    # The finance report: the debts aged under 李霞, the goods held at cost, the points.
    report = page_text(client.get("/reports/finance"))
    ageing = section(report, "账龄", "收款")
    # Not yet due ¥800.00, 1–30 days ¥0.00, 31–60 days ¥1,200.50 (due 45 days ago), total.
    assert "销售一部 李霞 ¥800.00 ¥0.00 ¥1,200.50 ¥0.00 ¥0.00 ¥2,000.50" in ageing, ageing
    liabilities = report[report.index("代客寄存商品（按成本）"):]
    assert "¥595.00 李霞 · 1 位顾客 · 7 ¥595.00" in liabilities, liabilities  # 7 boxes at ¥85
    assert "未兑积分：1800" in liabilities, liabilities
    # The arrears list, the points pages, the custody page, the stock page's custody shelf.
    arrears = page_text(client.get("/orders/arrears"))
    assert "张阿姨" in arrears and "王老师" in arrears and "李大爷" not in arrears
    assert points.balance_of(zhang.id) == 1500 and points.balance_of(li.id) == 0
    page = page_text(client.get(f"/points/customers/{zhang.id}"))
    assert "期初 +1500 期初余额" in page and "1500 积分将于" in page, page
    held = page_text(client.get(f"/custody/customers/{wang.id}"))
    assert "灵芝孢子粉" in held and "自 2025-09-20" in held and "旧系统未付款" in held
    # By batch: none free, 7 held for customers in the batch of goods held before, at cost.
    stock = page_text(client.get("/inventory/"))
    assert "LZ-01 灵芝孢子粉 期初寄存 — 0 盒 7 7 ¥595.00" in stock, stock
    # By product: 7 on hand (on the custody shelf), 7 promised, none free to sell.
    stock = page_text(client.get("/inventory/", query_string={"view": "products"}))
    assert "LZ-01 灵芝孢子粉 7 盒 7 0" in stock, stock

    # The same debts file again: nothing new, nothing written.
    dry, result = import_sheet(client, "arrears", debts, arrears_columns, mode="good")
    assert "待导入：0" in dry and "以前已导入：2" in dry and "有误：1" in dry
    assert "已导入 0 行" in result, result
    assert len(db.session.scalars(select(opening.OpeningRow).where(
        opening.OpeningRow.kind == "arrears").order_by(opening.OpeningRow.id)).all()) == 2
    assert "2,000.50" in section(page_text(client.get("/reports/finance")), "账龄", "收款")

    checked = runner.invoke(check_ledgers_command, catch_exceptions=False)
    assert checked.exit_code == 0 and "✗" not in checked.output, checked.output


def test_an_old_debt_import_is_rolled_back_from_its_page_and_leaves_the_report(
        db, client, login, runner):
    """Finance confirms a debts file all or nothing (refused while a row is bad, then taken
    once the bad row is gone), sees it in the finance report, rolls it back from its page:
    the report is empty again, the rollback is refused a second time, the ledgers agree."""
    from blueprints.admin.commands import check_ledgers_command
    marketer = make_user(["marketer"], username="lixia", display_name="李霞")
    make_customer(marketer, name="王大爷", phone="13800000001")
    login("finance")
    columns = {"customer": 0, "number": 1, "taken_on": 2, "amount": 3, "marketer": 4}
    headers = ["电话", "单号", "日期", "欠款", "顾问"]
    good = ["138 0000 0001", "LD-1", "2025.3.11", "¥1,200.50", "lixia"]
    uploaded = client.post("/opening/arrears/upload", data={
        "file": (io.BytesIO(sheet(headers, [good, ["13999990000", "LD-2", "2025.3.1", "9",
                                                   None]])), "欠款.xlsx")},
        content_type="multipart/form-data")
    mapped = client.post(uploaded.location, data={
        f"col_{f.key}": str(columns.get(f.key, -1)) for f in opening.KINDS["arrears"].fields})
    refused = client.post(mapped.location, data={"mode": "all"})
    assert refused.status_code == 422 and "本次没有导入任何数据" in page_text(refused)
    assert "1,200.50" not in page_text(client.get("/reports/finance"))

    dry, result = import_sheet(client, "arrears", sheet(headers, [good]), columns)
    assert "已导入" in result
    assert "1,200.50" in page_text(client.get("/reports/finance"))
    done = opening.batches()[0]
    rolled = client.post(f"/opening/batch/{done.token}/rollback")
    assert rolled.status_code == 302
    assert "已撤销" in page_text(client.get(rolled.location))
    report = page_text(client.get("/reports/finance"))
    assert "1,200.50" not in report and "王大爷" not in page_text(client.get("/orders/arrears"))
    again = client.post(f"/opening/batch/{done.token}/rollback")
    assert "只有已确认的导入可以撤销，且只能撤销一次。" in page_text(client.get(again.location))
    assert "1,200.50" not in page_text(client.get("/reports/finance"))
    assert runner.invoke(check_ledgers_command, catch_exceptions=False).exit_code == 0


def test_a_formula_in_a_cell_is_refused_at_the_upload_in_chinese(db, client, login):
    make_customer(make_user(["marketer"]), name="王大爷", phone="13800000001")
    login("finance")
    response = client.post("/opening/points/upload", data={
        "file": (io.BytesIO(sheet(["电话", "积分"], [["13800000001", "=1000+200"]])),
                 "积分.xlsx")}, content_type="multipart/form-data")
    assert response.status_code == 422
    text = page_text(response)
    assert "第 2 行" in text and "公式" in text, text[:600]
    assert opening.batches() == []

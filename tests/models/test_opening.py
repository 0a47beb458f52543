"""Opening balances (issue 26 §1), the points kind and the import machinery every kind shares:
a dry run row by row, all or nothing, the good rows only with the bad ones to download, the
same file twice, a rollback while nothing happened and its refusal after, bad files."""
import io
from datetime import date, datetime, timedelta, timezone

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select

from models import opening, points
from models.audit import AuditEntry
from models.base import Conflict, InvalidInput, NotFound, PermissionDenied, new_token
from models.ledgers import check_ledgers
from tests.factories import make_customer, make_user

NOW = datetime(2026, 11, 25, 2, 0, tzinfo=timezone.utc)  # 10:00 in Shanghai


def sheet(*rows, headers=("手机号", "积分余额", "获得日期")):
    workbook = Workbook()
    workbook.active.append(list(headers))
    for row in rows:
        workbook.active.append(list(row))
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def clean():
    problems = check_ledgers()
    assert all(found == [] for found in problems.values()), {k: v for k, v in problems.items() if v}


@pytest.fixture
def people(db):
    finance = make_user(["finance"], display_name="周静")
    marketer = make_user(["marketer"], display_name="刘芳")
    wang = make_customer(marketer, name="王大爷", phone="13800000001")
    li = make_customer(marketer, name="李阿姨", phone="13800000002")
    return finance, wang, li


def upload(finance, content, name="积分.xlsx"):
    return opening.upload(opening.KINDS["points"], name, content, actor=finance, now=NOW)


def test_a_dry_run_says_row_by_row_and_writes_nothing(people):
    finance, wang, li = people
    batch = upload(finance, sheet(
        ("138 0000 0001", 1200, "2025-10-01"),
        (str(li.id), "800", None),                  # by customer number, earned today
        ("13900000000", 100, None),                 # nobody
        ("13800000001", -5, None),                  # below zero
        ("13800000002", 300, "2023-01-01"),         # expired at the end of 2024
        ("13800000001", 1200, "2025/10/1")))        # the first row again
    assert batch.mapping == {"customer": 0, "balance": 1, "earned_on": 2}
    results = opening.dry_run(batch, actor=finance, now=NOW)
    assert [r.status for r in results] == ["import", "import", "invalid", "invalid", "invalid",
                                           "invalid"]
    assert "13900000000" in results[2].message and "先导入或登记" in results[2].message
    assert "大于零" in results[3].message
    assert "已经过期" in results[4].message
    assert "第 2 行" in results[5].message
    assert points.balance_of(wang.id) == 0


def test_all_or_nothing_refuses_a_bad_row_and_the_good_rows_mode_keeps_them(people):
    finance, wang, li = people
    content = sheet(("13800000001", 1200, "2025-10-01"), ("13800000002", 800, None),
                    ("13900000000", 100, None))
    batch = upload(finance, content)
    with pytest.raises(InvalidInput, match="1 行有误"):
        opening.confirm(batch, mode="all", actor=finance, now=NOW)
    assert points.balance_of(wang.id) == 0 and batch.status == "uploaded"
    result = opening.confirm(batch, mode="good", actor=finance, now=NOW)
    assert (result["imported"], result["invalid"]) == (2, 1)
    assert (points.balance_of(wang.id), points.balance_of(li.id)) == (1200, 800)
    entry = db_entry(wang)
    assert entry.kind == "opening" and entry.expires_on == date(2026, 12, 31)
    header, *bad = opening.bad_rows(batch)
    assert header[-1] == "错误原因" and bad[0][0] == "13900000000" and "13900000000" in bad[0][-1]
    audit = select(AuditEntry).where(AuditEntry.action == "opening.import")
    from extensions import db
    assert "导入 2 行" in db.session.scalar(audit).summary
    clean()


def db_entry(customer):
    from extensions import db
    return db.session.scalar(select(points.PointsEntry).where(
        points.PointsEntry.customer_id == customer.id).order_by(points.PointsEntry.id))


def test_the_same_file_twice_imports_nothing_new(people):
    finance, wang, _li = people
    content = sheet(("13800000001", 1200, "2025-10-01"))
    opening.confirm(upload(finance, content), mode="all", actor=finance, now=NOW)
    again = upload(finance, content)
    assert again.mapping == {"customer": 0, "balance": 1, "earned_on": 2}
    assert [r.status for r in opening.dry_run(again, actor=finance, now=NOW)] == ["repeated"]
    result = opening.confirm(again, mode="all", actor=finance, now=NOW)
    assert (result["imported"], result["repeated"]) == (0, 1)
    assert points.balance_of(wang.id) == 1200


def test_a_mapping_is_remembered_for_a_file_with_the_same_headers(people):
    finance, _wang, _li = people
    content = sheet(("13800000001", 1200, "2025-10-01"), headers=("联系方式", "分数", "日期"))
    first = upload(finance, content)
    assert first.mapping == {}
    opening.set_mapping(first, {"customer": 0, "balance": 1, "earned_on": 2})
    opening.confirm(first, mode="all", actor=finance, now=NOW)
    second = upload(finance, sheet(("13800000002", 5, None), headers=("联系方式", "分数", "日期")))
    assert second.mapping == {"customer": 0, "balance": 1, "earned_on": 2}


def test_a_rollback_reverses_the_entries_once_and_is_refused_after_the_points_moved(people):
    finance, wang, li = people
    batch = upload(finance, sheet(("13800000001", 1200, "2025-10-01"),
                                  ("13800000002", 800, None)))
    opening.confirm(batch, mode="all", actor=finance, now=NOW)
    assert opening.rollback(batch, actor=finance, now=NOW) == 2
    assert (points.balance_of(wang.id), points.balance_of(li.id)) == (0, 0)
    assert batch.status == "rolled_back" and points.lots(wang.id) == []
    with pytest.raises(Conflict):
        opening.rollback(batch, actor=finance, now=NOW)
    clean()
    # Imported again (the keys went with the rollback), then the points move: no rollback.
    second = upload(finance, sheet(("13800000001", 1200, "2025-10-01")))
    opening.confirm(second, mode="all", actor=finance, now=NOW)
    points.adjust(wang, -200, reason="兑换了毛巾", actor=make_user(["manager"]),
                  token=new_token(), now=NOW)
    with pytest.raises(Conflict, match="第 2 行"):
        opening.rollback(second, actor=finance, now=NOW)
    assert points.balance_of(wang.id) == 1000
    clean()


def test_a_customer_on_two_rows_rolls_back_whole(people):
    """Two lots of one customer in a file (earned on two days): each lot is the import's own,
    not a change since, so the rollback takes both back; a later move still refuses it."""
    finance, wang, _li = people
    batch = upload(finance, sheet(("13800000001", 1200, "2025-10-01"),
                                  ("13800000001", 300, "2026-03-01")))
    opening.confirm(batch, mode="all", actor=finance, now=NOW)
    assert points.balance_of(wang.id) == 1500
    assert opening.rollback(batch, actor=finance, now=NOW) == 2
    assert points.balance_of(wang.id) == 0 and batch.status == "rolled_back"
    clean()
    again = upload(finance, sheet(("13800000001", 1200, "2025-10-01"),
                                  ("13800000001", 300, "2026-03-01")))
    opening.confirm(again, mode="all", actor=finance, now=NOW)
    points.adjust(wang, -100, reason="兑换了毛巾", actor=make_user(["manager"]),
                  token=new_token(), now=NOW)
    with pytest.raises(Conflict, match="已有变动"):
        opening.rollback(again, actor=finance, now=NOW)
    assert points.balance_of(wang.id) == 1400
    clean()


def test_bad_files_and_roles_are_refused_in_chinese(people):
    finance, _wang, _li = people
    with pytest.raises(InvalidInput, match="xlsx"):
        upload(finance, b"name,phone\n")
    with pytest.raises(InvalidInput, match="公式"):
        upload(finance, sheet(("13800000001", "=1000+200", None)))
    with pytest.raises(InvalidInput, match="列标题"):
        upload(finance, sheet(headers=("", "")))
    with pytest.raises(PermissionDenied):
        upload(make_user(["marketer"]), sheet(("13800000001", 1, None)))
    with pytest.raises(NotFound):
        opening.kind_or_404("salary")
    batch = upload(finance, sheet(("13800000001", 1, None)))
    with pytest.raises(InvalidInput, match="积分余额"):
        opening.set_mapping(batch, {"customer": 0})
    with pytest.raises(InvalidInput):
        opening.set_mapping(batch, {"customer": 0, "balance": 0})
    from extensions import db
    assert db.session.scalar(select(func.count()).select_from(points.PointsEntry)) == 0


# --- Opening stock ---------------------------------------------------------------------------

def test_opening_stock_lands_in_its_batch_with_expiry_and_cost_and_rolls_back(db):
    from models import inventory as inv
    from tests.factories import make_product, make_warehouse
    clerk = make_user(["warehouse"])
    manager = make_user(["manager"])
    warehouse = make_warehouse("总仓", actor=clerk)
    product = make_product(actor=clerk, name="灵芝孢子粉", sku="LZ-001", sale_price=19800)
    content = sheet(("LZ-001", "总仓", "B2501", "2027-05-31", 120, "60.5"),
                    ("灵芝孢子粉", "总仓", "B2502", None, 30, None),
                    ("XX-999", "总仓", "", None, 5, None),
                    ("LZ-001", "外仓", "", None, 5, None),
                    ("LZ-001", "总仓", "B2503", None, "十", None),
                    headers=("商品编码", "仓库", "批号", "有效期至", "数量", "进价"))
    batch = opening.upload(opening.KINDS["stock"], "期初库存.xlsx", content, actor=manager,
                           now=NOW)
    assert batch.mapping == {"product": 0, "warehouse": 1, "batch": 2, "expiry": 3,
                             "quantity": 4, "unit_cost": 5}
    results = opening.dry_run(batch, actor=manager, now=NOW)
    assert [r.status for r in results] == ["import", "import", "invalid", "invalid", "invalid"]
    assert "XX-999" in results[2].message and "外仓" in results[3].message
    assert "整数" in results[4].message
    opening.confirm(batch, mode="good", actor=manager, now=NOW)
    assert inv.quantity_in(inv.location_of(warehouse), product) == 150
    moves = db.session.scalars(select(inv.StockMove).where(
        inv.StockMove.reason == "opening").order_by(inv.StockMove.id)).all()
    assert [(m.quantity, m.batch.number, m.batch.unit_cost) for m in moves] == \
        [(120, "B2501", 6050), (30, "B2502", product.standard_cost)]
    assert moves[0].batch.expiry_date == date(2027, 5, 31)
    clean()
    # Nothing moved since: the rollback reverses both moves.
    assert opening.rollback(batch, actor=manager, now=NOW) == 2
    assert inv.quantity_in(inv.location_of(warehouse), product) == 0
    clean()


def test_opening_stock_cannot_be_rolled_back_once_it_was_sold_from(db, shop):
    from models import inventory as inv
    content = sheet(("LZ-001", shop.warehouse.code, "B9", None, 10, 50),
                    headers=("商品编码", "仓库", "批号", "有效期至", "数量", "进价"))
    batch = opening.upload(opening.KINDS["stock"], "库存.xlsx", content, actor=shop.manager,
                           now=NOW)
    opening.confirm(batch, mode="all", actor=shop.manager, now=NOW)
    move = db.session.scalar(select(inv.StockMove).where(inv.StockMove.reason == "opening"))
    inv.scrap(product=shop.product, batch=move.batch, quantity=1, warehouse=shop.warehouse,
              actor=shop.clerk, note="破损")
    with pytest.raises(Conflict, match="第 2 行"):
        opening.rollback(batch, actor=shop.manager, now=NOW)


# --- Staff accounts --------------------------------------------------------------------------

def test_staff_accounts_from_a_sheet_change_their_password_first_and_roll_back(db):
    from models import accounts
    from tests.factories import make_department
    admin = make_user(["admin"])
    root = make_department("总部")
    make_department("销售一部", parent=root)
    other_root = make_department("分公司")
    make_department("销售一部", parent=other_root)  # two departments named 销售一部
    make_department("财务部", parent=root)
    content = sheet(("王小明", "WangXM", "总部/销售一部", "业务员", "139 0000 1111", "Start2026"),
                    ("周会计", "zhoukj", "财务部", "财务、库管", None, "Money2026"),
                    ("重名部门", "chongming", "销售一部", "业务员", None, "Start2026"),
                    ("弱密码", "ruomima", "财务部", "财务", None, "123"),
                    ("坏角色", "huaijuese", "财务部", "老板", None, "Start2026"),
                    headers=("姓名", "登录名", "部门", "角色", "手机", "初始密码"))
    batch = opening.upload(opening.KINDS["users"], "员工.xlsx", content, actor=admin, now=NOW)
    results = opening.dry_run(batch, actor=admin, now=NOW)
    assert [r.status for r in results] == ["import", "import", "invalid", "invalid", "invalid"]
    assert "总部/销售一部" in results[2].message and "至少" in results[3].message
    assert "老板" in results[4].message
    assert all(r.cells[5] == "" for r in results), "a first password is never shown"
    opening.confirm(batch, mode="good", actor=admin, now=NOW)
    assert batch.content == b"" and "Start2026" not in str(batch.result)
    wang = accounts.find_user_by_username("wangxm")
    assert wang.department.path == "总部 / 销售一部" and wang.must_change_password
    assert wang.has_role("marketer") and wang.phone == "+8613900001111"
    zhou = accounts.find_user_by_username("zhoukj")
    assert zhou.has_role("finance") and zhou.has_role("warehouse")
    # 周会计 signs in: the account stays when the import is rolled back.
    zhou.last_login_at = NOW
    with pytest.raises(Conflict, match="周会计"):
        opening.rollback(batch, actor=admin, now=NOW)
    zhou.last_login_at = None
    assert opening.rollback(batch, actor=admin, now=NOW) == 2
    assert accounts.find_user_by_username("wangxm") is None


# --- Arrears ---------------------------------------------------------------------------------

def test_old_debts_are_owed_reminded_and_paid_like_any_other_but_never_sales(db, shop):
    """Two old debts of 王大爷 (¥1,580 and ¥300) credited to 刘芳: in what he owes, the arrears,
    the finance report and 刘芳's arrears now; not in her deals or sales; ¥500 paid on one counts
    as collected; the import rolls back only while nothing was paid."""
    from flask import current_app
    from models import order_taking, orders as o
    from reports import performance
    from reports.params import Params
    today = performance.local_day(performance.utcnow())
    # Overdue by 99 days: over 90, and a day on which the nightly run reminds again (the day
    # after the due date, then every 7 days) — whatever day the test runs.
    due = today - timedelta(days=1 + 7 * 14)
    content = sheet((shop.customer.phone[3:], "2024-0815",
                     "2024-08-15", "1,580.00", due.isoformat(), "刘芳"),
                    (str(shop.customer.id), "", None, 300, None, None),
                    (shop.customer.phone[3:], "X1", None, 0, None, None),
                    (shop.customer.phone[3:], "X2", None, 10, None, "张三"),
                    headers=("手机号", "原单号", "日期", "欠款", "应付日期", "业务员"))
    batch = opening.upload(opening.KINDS["arrears"], "欠款.xlsx", content, actor=shop.finance)
    results = opening.dry_run(batch, actor=shop.finance)
    assert [r.status for r in results] == ["import", "import", "invalid", "invalid"]
    assert "大于零" in results[2].message and "张三" in results[3].message
    opening.confirm(batch, mode="good", actor=shop.finance)
    debts = list(db.session.scalars(select(o.Order).where(o.Order.status == "opening")
                                    .order_by(o.Order.id)))
    assert [(d.total, d.balance_due, d.marketer_id) for d in debts] == \
        [(158000, 158000, shop.marketer.id), (30000, 30000, shop.marketer.id)]
    assert debts[0].number.startswith("QC") and "2024-0815" in debts[0].note
    assert debts[0].due_date == due
    assert o.customer_due(shop.customer) == 188000
    assert set(db.session.scalars(o.arrears_query(shop.manager).with_only_columns(o.Order.id))) \
        == {d.id for d in debts}
    clean()
    params = Params(user=shop.manager, start=today, end=today)
    figures = performance.figures(params, [shop.marketer.id])[shop.marketer.id]
    assert (figures["deals"], figures["sales"], figures["arrears"]) == (0, 0, 188000)
    assert figures["arrears_over_90"] == 158000
    from jobs import worklists
    from models.tasks import Task
    worklists.arrears(today)  # the reminder of an overdue debt, as for a deal
    reminded = db.session.scalars(select(Task).where(Task.kind == "arrears")).all()
    assert [(t.customer_id, t.title) for t in reminded] == [(shop.customer.id, reminded[0].title)]
    assert "逾期" in reminded[0].title and str(debts[0].id) in reminded[0].source_key
    o.receive_payment(debts[0], amount=50000, method="cash", actor=shop.finance,
                      token=new_token())
    figures = performance.figures(params, [shop.marketer.id])[shop.marketer.id]
    assert (figures["collections"], figures["sales"], figures["arrears"]) == (50000, 0, 138000)
    with pytest.raises(Conflict):
        order_taking.cancel_order(debts[1], reason="x", actor=shop.manager)
    with pytest.raises(Conflict, match="已有收款"):
        opening.rollback(batch, actor=shop.finance)
    clean()


def test_an_old_debt_import_rolls_back_while_nothing_was_paid(db, shop):
    from models import orders as o
    content = sheet((shop.customer.phone[3:], "A1", None, 100, None, None),
                    headers=("手机号", "原单号", "日期", "欠款", "应付日期", "业务员"))
    batch = opening.upload(opening.KINDS["arrears"], "欠款.xlsx", content, actor=shop.finance)
    opening.confirm(batch, mode="all", actor=shop.finance)
    assert o.customer_due(shop.customer) == 10000
    assert opening.rollback(batch, actor=shop.finance) == 1
    assert o.customer_due(shop.customer) == 0
    clean()


# --- Purchase history ------------------------------------------------------------------------

def test_past_purchases_feed_the_grade_the_repurchase_reminder_and_the_timeline(db, shop):
    """王大爷 bought 灵芝孢子粉 × 3 (30 days a box) for ¥12,000 in the old system 80 days ago:
    grade A (¥10,000 paid in the window), a reminder before the boxes run out (day 90, 7 days
    ahead: due on day 83), the purchase on his timeline — and no sale anywhere."""
    from jobs import customers as job_customers, worklists
    from models.tasks import Task
    from models.timeline import timeline_of
    from reports import performance
    from reports.params import Params
    shop.product.days_per_unit = 30
    today = performance.local_day(performance.utcnow())
    bought = today - timedelta(days=80)
    content = sheet((shop.customer.phone[3:], bought.isoformat(), "LZ-001", 3, "12000", "刘芳"),
                    (shop.customer.phone[3:], bought.isoformat(), "老产品（已停产）", 1, 50, None),
                    (shop.customer.phone[3:], None, "LZ-001", 1, 1, None),
                    headers=("手机号", "购买日期", "商品", "数量", "金额", "业务员"))
    batch = opening.upload(opening.KINDS["history"], "历史.xlsx", content, actor=shop.finance)
    results = opening.dry_run(batch, actor=shop.finance)
    assert [r.status for r in results] == ["import", "import", "invalid"]
    opening.confirm(batch, mode="good", actor=shop.finance)
    assert job_customers.grades(today)[shop.customer.id] == "A"
    assert "订单 2 张" in job_customers.grade_explained(shop.customer, today)[1]
    worklists.repurchase(today + timedelta(days=83 - 80))
    reminder = db.session.scalar(select(Task).where(Task.kind == "repurchase"))
    assert reminder.customer_id == shop.customer.id and "灵芝孢子粉" in reminder.title
    assert reminder.due_date == bought + timedelta(days=90 - 7)
    titles = [item.title for item in timeline_of(shop.customer)]
    assert any("老产品（已停产）" in t and "旧系统" in t for t in titles)
    params = Params(user=shop.manager, start=bought, end=today)
    assert performance.figures(params, [shop.marketer.id])[shop.marketer.id]["sales"] == 0
    # RFM counts them as orders: 王大爷 bought only in the old system and has a score.
    assert job_customers.rfm(today) == 1
    from models.customers import CustomerRfm
    scored = db.session.get(CustomerRfm, shop.customer.id)
    assert (scored.orders, scored.sales_fen, scored.last_purchase_at.date()) == \
        (2, 1205000, bought)
    opening.rollback(batch, actor=shop.finance)
    assert job_customers.grades(today)[shop.customer.id] == "D"
    assert job_customers.rfm(today) == 0  # rolled back: no purchase, no score
    clean()


# --- Products --------------------------------------------------------------------------------

def test_products_from_an_old_list_then_their_opening_stock_and_a_rollback(db):
    from models import inventory as inv
    from tests.factories import make_warehouse
    manager = make_user(["manager"])
    make_warehouse("总仓", actor=manager)
    content = sheet(("LZ-001", "灵芝孢子粉", "盒", "保健品", "销售品", "198", "60", None, 730, 30),
                    ("GF-201", "养生保温杯", "个", "礼品", "赠品、积分兑换品", 0, 15, 800, None, None),
                    ("LZ-001", "重复的", "盒", None, None, 1, 1, None, None, None),
                    ("BAD SKU", "坏编码", "盒", None, None, 1, 1, None, None, None),
                    ("GF-202", "无兑换积分", "个", None, "积分兑换品", 0, 1, None, None, None),
                    headers=("编码", "名称", "单位", "类别", "类型", "售价", "成本", "兑换积分",
                             "保质期", "可用天数"))
    batch = opening.upload(opening.KINDS["products"], "商品.xlsx", content, actor=manager)
    results = opening.dry_run(batch, actor=manager)
    assert [r.status for r in results] == ["import", "import", "invalid", "invalid", "invalid"]
    assert "第 2 行" in results[2].message and "积分" in results[4].message
    opening.confirm(batch, mode="good", actor=manager)
    lz, cup = inv.product_by_code("LZ-001"), inv.product_by_code("GF-201")
    assert (lz.sale_price, lz.standard_cost, lz.shelf_life_days, lz.days_per_unit,
            lz.category.name) == (19800, 6000, 730, 30, "保健品")
    assert cup.is_gift and cup.redeemable and not cup.for_sale and cup.points_price == 800
    # The cup's opening stock comes in: the rollback keeps the cup, so it is refused whole.
    stock = opening.upload(opening.KINDS["stock"], "库存.xlsx",
                           sheet(("GF-201", "总仓", "", None, 50, None),
                                 headers=("商品编码", "仓库", "批号", "有效期至", "数量", "进价")),
                           actor=manager)
    opening.confirm(stock, mode="all", actor=manager)
    with pytest.raises(Conflict, match="养生保温杯"):
        opening.rollback(batch, actor=manager)
    assert inv.product_by_code("LZ-001") is not None
    opening.rollback(stock, actor=manager)  # the stock reversed: its batch stays, so does the cup
    with pytest.raises(Conflict):
        opening.rollback(batch, actor=manager)
    clean()


# --- Goods held in custody (期初寄存) ----------------------------------------------------------

CUSTODY_HEADERS = ("手机号", "商品", "仓库", "数量", "是否已付", "寄存日期", "批号", "有效期至",
                   "进价")


def custody_sheet(*rows):
    return sheet(*rows, headers=CUSTODY_HEADERS)


def import_custody(shop, content, mode="all"):
    batch = opening.upload(opening.KINDS["custody"], "寄存.xlsx", content, actor=shop.finance)
    return batch, opening.confirm(batch, mode=mode, actor=shop.finance)


def held_rows(customer):
    from models import custody
    return {(row["product"].name, row["held"], row["pickable"])
            for row in custody.holdings(customer) if row["opening"] is not None}


def test_custody_rows_are_checked_in_chinese_and_all_or_nothing_writes_nothing(db, shop):
    from models import custody
    phone = shop.customer.phone[3:]
    content = custody_sheet(
        (phone, "LZ-001", "总仓", 6, "是", "2025-09-20", "", None, None),
        (phone, "XX-999", "总仓", 1, "是", None, None, None, None),       # no such product
        ("13900000000", "LZ-001", "总仓", 1, "是", None, None, None, None),  # nobody
        (phone, "LZ-001", "外仓", 1, "是", None, None, None, None),       # no such warehouse
        (phone, "LZ-001", "总仓", 0, "是", None, None, None, None),       # nothing held
        (phone, "LZ-001", "总仓", 2, "也许", None, None, None, None),     # paid or not?
        (phone, "LZ-001", "总仓", 2, "否", "2099-01-01", None, None, None),  # in the future
        (phone, "灵芝孢子粉", "总仓", 6, "否", "2025/9/20", None, None, None))  # row 2 again
    batch = opening.upload(opening.KINDS["custody"], "寄存.xlsx", content, actor=shop.finance)
    assert batch.mapping == {"customer": 0, "product": 1, "warehouse": 2, "quantity": 3,
                             "is_paid": 4, "held_since": 5, "batch": 6, "expiry": 7,
                             "unit_cost": 8}
    results = opening.dry_run(batch, actor=shop.finance)
    assert [r.status for r in results] == ["import"] + ["invalid"] * 7
    assert "XX-999" in results[1].message and "先在商品中添加" in results[1].message
    assert "13900000000" in results[2].message
    assert "外仓" in results[3].message
    assert "大于零" in results[4].message
    assert "也许" in results[5].message and "是" in results[5].message
    assert "晚于今天" in results[6].message
    assert "第 2 行" in results[7].message
    with pytest.raises(InvalidInput, match="本次没有导入任何数据"):
        opening.confirm(batch, mode="all", actor=shop.finance)
    assert db.session.scalar(select(func.count()).select_from(custody.CustodyEntry)) == 0
    assert db.session.scalar(select(func.count()).select_from(custody.OpeningHolding)) == 0
    clean()


def test_custody_lands_on_the_custody_shelf_is_collected_as_paid_and_imports_once(db, shop):
    """王大爷 left 6 boxes (paid, batch B7 expiring 2030) and 2 cups (not paid, no batch) with
    the old company: both on 总仓's custody shelf by opening moves, his to collect — the boxes
    freely, the cups only by a manager's early release. The same file again writes nothing."""
    from models import custody, inventory as inv
    from models.setup import setup_steps
    phone = shop.customer.phone[3:]
    content = custody_sheet((phone, "LZ-001", "", 6, "已付", "2025-09-20", "B7", "2030-05-31",
                             "55"),
                            (phone, "保温杯", None, 2, "否", None, None, None, None))
    batch, result = import_custody(shop, content)
    assert result["imported"] == 2
    shelf = inv.location_of(shop.warehouse, "custody")
    assert (inv.quantity_in(shelf, shop.product), inv.quantity_in(shelf, shop.cup)) == (6, 2)
    assert inv.quantity_in(inv.location_of(shop.warehouse), shop.product) == 50  # free stock
    moves = db.session.scalars(select(inv.StockMove).where(
        inv.StockMove.reason == "opening").order_by(inv.StockMove.id)).all()
    assert [(m.quantity, m.batch.number, m.batch.unit_cost, m.to_location_id, m.customer_id)
            for m in moves] == [(6, "B7", 5500, shelf.id, shop.customer.id),
                                (2, "期初寄存", shop.cup.standard_cost, shelf.id, shop.customer.id)]
    assert moves[0].batch.expiry_date == date(2030, 5, 31)
    assert held_rows(shop.customer) == {("灵芝孢子粉", 6, 6), ("保温杯", 2, 0)}
    holding = db.session.scalar(select(custody.OpeningHolding).where(
        custody.OpeningHolding.product_id == shop.product.id))
    assert (holding.is_paid, holding.held_since, holding.quantity) == (True, date(2025, 9, 20), 6)
    assert dict(custody.balances_by_product(shop.customer)) == {shop.product: 6, shop.cup: 2}
    steps = {step.key: step for step in setup_steps()}
    assert steps["opening_balances"].done and steps["opening_balances"].counts["imports"] == 1
    assert steps["opening_balances"].counts["custody"] == 2
    clean()
    _again, result = import_custody(shop, content)
    assert (result["imported"], result["repeated"]) == (0, 2)
    assert inv.quantity_in(shelf, shop.product) == 6
    # The boxes are paid for: collected at the counter; the cups are not.
    cup = db.session.scalar(select(custody.OpeningHolding).where(
        custody.OpeningHolding.product_id == shop.cup.id))
    custody.pick_up(shop.customer, {}, opening={holding.id: 4}, actor=shop.clerk,
                    token=new_token())
    with pytest.raises(Conflict, match="旧系统中未付款"):
        custody.pick_up(shop.customer, {}, opening={cup.id: 1}, actor=shop.clerk,
                        token=new_token())
    with pytest.raises(Conflict, match="只寄存了 2"):
        custody.pick_up(shop.customer, {}, opening={holding.id: 3}, actor=shop.clerk,
                        token=new_token())
    custody.pick_up(shop.customer, {}, opening={cup.id: 2}, actor=shop.manager,
                    token=new_token(), release_reason="老顾客，已在旧店付清")
    assert held_rows(shop.customer) == {("灵芝孢子粉", 2, 2)}
    assert inv.quantity_in(shelf, shop.cup) == 0
    clean()
    # Picked up from: the import stays.
    with pytest.raises(Conflict, match="第 2 行"):
        opening.rollback(batch, actor=shop.finance)
    assert inv.quantity_in(shelf, shop.product) == 2
    clean()


def test_a_custody_import_rolls_back_until_a_pickup_even_a_reversed_one(db, shop):
    from models import custody, inventory as inv
    phone = shop.customer.phone[3:]
    content = custody_sheet((phone, "LZ-001", "总仓", 3, "是", None, None, None, None))
    batch, _result = import_custody(shop, content)
    shelf = inv.location_of(shop.warehouse, "custody")
    assert opening.rollback(batch, actor=shop.finance) == 1
    assert inv.quantity_in(shelf, shop.product) == 0 and held_rows(shop.customer) == set()
    assert custody.balances_by_product(shop.customer) == []
    clean()
    # Imported again (the keys went with the rollback); a pickup, reversed: it stays.
    again, _result = import_custody(shop, content)
    assert held_rows(shop.customer) == {("灵芝孢子粉", 3, 3)}
    holding = db.session.scalar(select(custody.OpeningHolding).order_by(
        custody.OpeningHolding.id.desc()))
    pickup = custody.pick_up(shop.customer, {}, opening={holding.id: 1}, actor=shop.clerk,
                             token=new_token())
    entry = db.session.scalar(select(custody.CustodyEntry).where(
        custody.CustodyEntry.pickup_id == pickup.id))
    reversal = custody.reverse_entry(entry, reason="没拿走", actor=shop.manager)
    assert reversal.opening_holding_id == holding.id
    assert held_rows(shop.customer) == {("灵芝孢子粉", 3, 3)}
    clean()
    with pytest.raises(Conflict, match="已有领取记录"):
        opening.rollback(again, actor=shop.finance)
    assert inv.quantity_in(shelf, shop.product) == 3
    clean()


def test_custody_in_a_pooled_warehouse_is_a_promise_on_the_stock(db, shop):
    """In a pooled warehouse nothing moves at the import: the boxes are a promise on the stock
    (counted in its opening stock), collected from it like a pooled deposit, first expiry
    first; the rollback takes the promise back."""
    from models import custody, inventory as inv
    inv.set_custody_mode(shop.warehouse, "pooled", actor=shop.manager)
    phone = shop.customer.phone[3:]
    batch, _result = import_custody(shop, custody_sheet(
        (phone, "LZ-001", "总仓", 5, "是", "2024-01-01", "B7", None, None),
        (phone, "保温杯", "总仓", 1, "否", None, None, None, None)))
    assert db.session.scalar(select(func.count()).select_from(inv.StockMove).where(
        inv.StockMove.reason == "opening")) == 0
    assert inv.promised(shop.warehouse.id)[(shop.warehouse.id, shop.product.id)] == 5
    assert held_rows(shop.customer) == {("灵芝孢子粉", 5, 5), ("保温杯", 1, 0)}
    clean()
    assert opening.rollback(batch, actor=shop.finance) == 2
    assert inv.promised(shop.warehouse.id) == {} and held_rows(shop.customer) == set()
    clean()
    again, _result = import_custody(shop, custody_sheet(
        (phone, "LZ-001", "总仓", 5, "是", "2024-01-01", "B7", None, None)))
    holding = db.session.scalar(select(custody.OpeningHolding).order_by(
        custody.OpeningHolding.id.desc()))
    custody.pick_up(shop.customer, {}, opening={holding.id: 2}, actor=shop.clerk,
                    token=new_token())
    assert inv.quantity_in(inv.location_of(shop.warehouse), shop.product) == 48
    assert inv.promised(shop.warehouse.id)[(shop.warehouse.id, shop.product.id)] == 3
    clean()
    with pytest.raises(Conflict, match="第 2 行"):
        opening.rollback(again, actor=shop.finance)


def test_a_file_is_checked_and_written_a_chunk_at_a_time(people, monkeypatch):
    """Two rows a chunk here (1,000 in use), each chunk against its own customers: the same
    row in another chunk is still the same row; all or nothing refused on a bad row in the
    last chunk leaves nothing written by the chunks before it; the good rows mode writes every
    chunk's good rows, the bad ones kept with their cells."""
    finance, wang, li = people
    monkeypatch.setattr(opening, "CHUNK", 2)
    zhao = make_customer(name="赵大爷", phone="13800000003")
    content = sheet(("13800000001", 100, None), ("13800000002", 200, None),
                    ("13800000001", 100, None), ("13800000003", 300, None),
                    ("13900000000", 5, None))
    batch = upload(finance, content)
    results = opening.dry_run(batch, actor=finance, now=NOW)
    assert [r.status for r in results] == ["import", "import", "invalid", "import", "invalid"]
    assert "第 2 行" in results[2].message
    assert results[4].cells == ["13900000000", "5", ""]
    with pytest.raises(InvalidInput, match="2 行有误"):
        opening.confirm(batch, mode="all", actor=finance, now=NOW)
    assert points.balance_of(wang.id) == 0 and batch.status == "uploaded"
    result = opening.confirm(batch, mode="good", actor=finance, now=NOW)
    assert (result["imported"], result["invalid"]) == (3, 2)
    assert [points.balance_of(x.id) for x in (wang, li, zhao)] == [100, 200, 300]
    assert [number for number, _cells, _message in result["bad"]] == [4, 6]
    clean()


def test_arrears_written_many_at_once_are_numbered_as_one_by_one(db, shop):
    """An opening order written with the others of its chunk gets the number, note and columns
    the row-by-row write gives it."""
    from models import orders as o
    from models.clock import document_number
    content = sheet((shop.customer.phone[3:], "A1", "2024-08-15", "100", None, None),
                    (shop.customer.phone[3:], "A2", None, "200.5", "2025-02-15", None),
                    headers=("手机号", "原单号", "日期", "欠款", "应付日期", "业务员"))
    batch = opening.upload(opening.KINDS["arrears"], "欠款.xlsx", content, actor=shop.finance)
    opening.confirm(batch, mode="all", actor=shop.finance, now=NOW)
    many = list(db.session.scalars(select(o.Order).where(o.Order.status == "opening")
                                   .order_by(o.Order.id)))
    assert [d.number for d in many] == [document_number("QC", NOW, d.id) for d in many]
    plan = {"customer": shop.customer, "marketer": shop.customer.owner, "amount": 10000,
            "taken_on": date(2024, 8, 15), "due": None, "number": "A1"}
    _customer_id, one = opening.KINDS["arrears"].apply(plan, batch, shop.finance, NOW, None)
    columns = [col.key for col in o.Order.__table__.columns if col.key not in ("id", "number")]
    assert {k: getattr(one, k) for k in columns} == {k: getattr(many[0], k) for k in columns}
    assert one.number == document_number("QC", NOW, one.id)


def test_points_written_many_at_once_are_the_entries_one_by_one_writes(people):
    """Balances written with the others of their chunk: each row's entry is what apply writes
    (kind, points, expiry, reason, who, when), the account's balance moved with it, and rows
    alike in customer, points and expiry take their ids in the rows' order."""
    finance, wang, li = people
    content = sheet(("13800000001", 100, "2026-03-01"), ("13800000002", 200, None),
                    ("13800000001", 100, "2026-05-01"),  # alike the first but for the day
                    ("13800000001", 300, "2025-06-01"))
    batch = upload(finance, content)
    opening.confirm(batch, mode="all", actor=finance, now=NOW)
    rows = opening.db.session.scalars(select(opening.OpeningRow).order_by(
        opening.OpeningRow.number)).all()
    entries = [opening.db.session.get(points.PointsEntry, row.target_id) for row in rows]
    assert [(e.customer_id, e.points, e.expires_on) for e in entries] == [
        (wang.id, 100, date(2027, 12, 31)), (li.id, 200, date(2027, 12, 31)),
        (wang.id, 100, date(2027, 12, 31)), (wang.id, 300, date(2026, 12, 31))]
    assert entries[0].id < entries[2].id
    assert [points.balance_of(x.id) for x in (wang, li)] == [500, 200]
    plan = {"customer": li, "points": 200, "earned_on": date(2026, 1, 5)}
    state = opening.KINDS["points"].prepare([plan], batch)
    _customer_id, one = opening.KINDS["points"].apply(plan, batch, finance, NOW, state)
    opening.db.session.flush()
    columns = [col.key for col in points.PointsEntry.__table__.columns if col.key != "id"]
    assert {k: getattr(one, k) for k in columns} == {k: getattr(entries[1], k) for k in columns}
    clean()

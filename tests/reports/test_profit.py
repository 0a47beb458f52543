"""Profit report (利润报表): every figure of a small scripted world against numbers worked out by
hand, the records behind each figure adding up to it, scope (a department head, a marketer),
roles, the PDF's Chinese text and the .xlsx read back."""
import io
import re
import subprocess
from datetime import timedelta

import pytest
from openpyxl import load_workbook

from formatting import local_day
from models import checkin as ci, events as ev, gifts as g, inventory as inv, order_taking
from models import orders as o, points as pt, redemptions
from models.base import NotFound, new_token, utcnow
from models.settings import update_settings
from reports import performance, profit
from reports.params import parse
from tests.conftest import page_text
from tests.factories import (make_customer, make_department, make_event, make_product,
                             make_stocked_product, make_user, make_warehouse)


@pytest.fixture
def world(db):
    """Worked out by hand (fen). The period is yesterday and today.

    Products: 灵芝孢子粉 (A, list ¥198, batch cost ¥60), 深海鱼油 (B, list ¥100, received at a
    batch cost of ¥32 though its standard cost is ¥30), the gift cup (cost ¥15). The package 大单
    is 2 A + 1 B for ¥450: lines A 2 × 19800 − 3672 = 35928 and B 1 × 10000 − 928 = 9072.

    - o1 刘芳 (销售一部) sells 客户一 the package at the lecture, taken home: sales 45000, cogs
      2 × 6000 + 3200 = 15200.
    - o2 刘芳 sells 客户二 3 A with ¥44 off in the shop (55000), one box left in custody; the
      customer returns one box, which comes off the custody shelf back into stock: value
      55000 × 1 // 3 = 18333, cogs 18000 − 6000 = 12000.
    - o3 陈伟 (销售二部) sells 客户三 2 B at the lecture (20000, cogs 6400); one comes back
      broken and is scrapped: value 10000, the cost stays.
    - o4 刘芳 sells 客户一 one A left in custody, then it is cancelled: counts nowhere.
    - o5 陈伟 sold 客户三 2 A forty days ago (not in the period); one comes back into stock today:
      sales −19800, units −1, cogs −6000 in the period.
    - o6 刘芳's ¥1,188 order for 客户二 is a large order still waiting: counts nowhere.
    - Gifts: 客户一's door gift (¥15, charged to 刘芳); 客户三's (陈伟), taken back. Points:
      客户二 redeems a cup in the shop (¥15, 刘芳's customer).
    """
    root = make_department("总部")
    one, two = make_department("销售一部", parent=root), make_department("销售二部", parent=root)
    manager = make_user(["manager"], display_name="李总", department=root)
    finance = make_user(["finance"], display_name="周静", department=root)
    head = make_user(["dept_head"], display_name="张丽", department=one)
    liu = make_user(["marketer"], display_name="刘芳", department=one)
    chen = make_user(["marketer"], display_name="陈伟", department=two)
    clerk = make_user(["warehouse"], display_name="孙强")
    warehouse = make_warehouse("总仓", actor=clerk)
    a = make_stocked_product(warehouse, 50, actor=clerk, name="灵芝孢子粉", sku="LZ-001",
                             sale_price=19800)
    b = make_product("深海鱼油", sku="YY-001", actor=clerk, sale_price=10000,
                     standard_cost=3000)
    inv.receive(product=b, quantity=30, warehouse=warehouse, actor=clerk, batch_number="B2",
                unit_cost=3200)
    cup = make_stocked_product(warehouse, 10, actor=clerk, name="养生杯", sku="GF-001",
                               is_gift=True, for_sale=False, redeemable=True, points_price=300,
                               standard_cost=1500)
    package = o.save_package(None, name="大单", price=45000, items=[(a, 2), (b, 1)],
                             actor=manager)
    event = make_event(manager, title="十二月养生讲座")
    g.save_rule(None, event=event, kind="attendance", product=cup, quantity=1, actor=manager)
    c1, c2 = make_customer(liu, name="客户一"), make_customer(liu, name="客户二")
    c3 = make_customer(chen, name="客户三")
    invitations = [ev.invite(event, customer, actor=customer.owner) for customer in (c1, c3)]
    for invitation in invitations:
        ci.check_in(event, invitation, actor=manager, token=new_token())

    def order(customer, lines, actor, **kw):
        return order_taking.create_order(customer, lines=lines, actor=actor, token=new_token(),
                                         warehouse=warehouse, **kw)

    def give_back(order_, quantity, **kw):
        return order_taking.return_goods(order_, order_.lines[0], quantity=quantity,
                                         reason="不合适", approver=manager, actor=manager,
                                         token=new_token(), **kw)
    earlier = utcnow() - timedelta(days=40)
    o5 = order(c3, [{"product": a, "quantity": 2}], chen, channel="store", now=earlier)
    o1 = order(c1, o.package_lines(package), liu, event=event)
    o2 = order(c2, [{"product": a, "quantity": 3, "discount": 4400, "held": 1}], liu,
               channel="store")
    give_back(o2, 1)
    o3 = order(c3, [{"product": b, "quantity": 2}], chen, event=event)
    give_back(o3, 1, disposition="scrap")
    o4 = order(c1, [{"product": a, "quantity": 1, "held": True}], liu, event=event)
    order_taking.cancel_order(o4, reason="顾客反悔", actor=manager)
    give_back(o5, 1)
    update_settings({"orders.large_order_yuan": 1000}, actor=make_user(["admin"]))
    o6 = order(c2, [{"product": a, "quantity": 6}], liu, channel="store")
    assert o6.is_pending

    g.issue_attendance_gifts(event, c1, actor=manager, token=new_token())
    taken_back = g.issue_attendance_gifts(event, c3, actor=manager, token=new_token())
    g.reverse_gift(taken_back, reason="发错了", actor=manager)
    pt.adjust(c2, 1000, reason="老顾客回馈", actor=manager, token=new_token())
    redemptions.redeem(c2, [(cup, 1)], warehouse=warehouse, actor=manager, token=new_token())
    return {"manager": manager, "finance": finance, "head": head, "liu": liu, "chen": chen,
            "one": one, "two": two, "event": event, "a": a, "b": b,
            "orders": {"o1": o1, "o2": o2, "o3": o3, "o4": o4, "o5": o5, "o6": o6}}


def period():
    today = local_day(utcnow())
    return {"start": (today - timedelta(days=1)).isoformat(), "end": today.isoformat()}


def gathered(user, **args):
    return profit.gather(parse({**period(), **args}, user))


def rows_of(data, by):
    return {row["name"]: {k: row[k] for k in ("sales", "cogs", "margin", "margin_pct",
                                              *(("units",) if by == "product" else
                                                ("gifts", "points", "net")))}
            for row in next(t for t in data["tables"] if t["by"] == by)["rows"]}


# By hand: sales 45000 + (55000 − 18333) + (20000 − 10000) − 19800 = 71867; cogs 15200 + 12000
# + 6400 − 6000 = 27600; margin 44267, 61.6 %; gifts 1500; points 1500; net 41267.
TOTAL = {"units": 5, "sales": 71867, "cogs": 27600, "margin": 44267, "margin_pct": 61.6,
         "gifts": 1500, "points": 1500, "net": 41267}
PRODUCTS = {
    # 2 + 3 − 1 − 1 boxes; 35928 + 55000 − 18333 − 19800; 12000 + 18000 − 6000 − 6000
    "灵芝孢子粉": {"units": 3, "sales": 52795, "cogs": 18000, "margin": 34795,
                  "margin_pct": 65.9},
    # 1 + 2 − 1 bottles; 9072 + 20000 − 10000; 3200 + 6400 (the scrapped bottle still cost)
    "深海鱼油": {"units": 2, "sales": 19072, "cogs": 9600, "margin": 9472, "margin_pct": 49.7},
}
LIU = {"sales": 81667, "cogs": 27200, "margin": 54467, "margin_pct": 66.7, "gifts": 1500,
       "points": 1500, "net": 51467}
# 陈伟's return of an order of last month outweighs his sales this period: no margin %.
CHEN = {"sales": -9800, "cogs": 400, "margin": -10200, "margin_pct": None, "gifts": 0,
        "points": 0, "net": -10200}
EVENTS = {"十二月养生讲座": {"sales": 55000, "cogs": 21600, "margin": 33400, "margin_pct": 60.7,
                            "gifts": 1500, "points": 0, "net": 31900},
          "非会议销售": {"sales": 16867, "cogs": 6000, "margin": 10867, "margin_pct": 64.4,
                         "gifts": 0, "points": 1500, "net": 9367}}


def test_every_figure_by_hand(db, world):
    data = gathered(world["manager"])
    assert {k: data["total"][k] for k in TOTAL} == TOTAL
    assert rows_of(data, "product") == PRODUCTS
    assert list(rows_of(data, "product")) == ["灵芝孢子粉", "深海鱼油"]  # by sales
    assert rows_of(data, "marketer") == {"刘芳": LIU, "陈伟": CHEN}
    assert rows_of(data, "department") == {"销售一部": LIU, "销售二部": CHEN}
    assert rows_of(data, "event") == EVENTS
    assert list(rows_of(data, "event"))[-1] == "非会议销售"  # what has no event comes last


def test_sales_are_the_performance_reports_sales(db, world):
    """Per marketer the profit report's sales are the performance report's (DESIGN §3)."""
    params = parse(period(), world["manager"])
    figures = performance.figures(params, [world["liu"].id, world["chen"].id])
    assert (figures[world["liu"].id]["sales"], figures[world["chen"].id]["sales"]) == \
        (LIU["sales"], CHEN["sales"])


def test_the_records_behind_each_figure_add_up_to_it(app, db, world):
    """Every counted figure of every row, and of the totals, lists records that sum to it."""
    params = parse(period(), world["manager"])
    data = profit.gather(params)
    with app.test_request_context():
        for table in data["tables"]:
            for row in table["rows"]:
                for figure in table["listed"]:
                    found, more = profit.rows_behind(params, figure, table["by"], row["id"])
                    assert not more
                    assert sum(value for _l, value, _m, _u in found) == row[figure], \
                        (table["by"], row["name"], figure, found)
        for figure in profit.LISTED["all"]:
            found, _more = profit.rows_behind(params, figure, "all", None)
            assert sum(value for _l, value, _m, _u in found) == data["total"][figure]
        # Neither the cancelled order nor the pending one is behind any figure.
        numbers = {label.split(" · ")[0] for figure in ("sales", "cogs")
                   for label, *_rest in profit.rows_behind(params, figure, "all", None)[0]}
        orders = world["orders"]
        assert numbers == {orders[k].number for k in ("o1", "o2", "o3", "o5")}


def test_a_department_head_sees_their_department_and_a_marketer_their_own(db, world):
    data = gathered(world["head"])
    assert rows_of(data, "marketer") == {"刘芳": LIU}
    assert rows_of(data, "department") == {"销售一部": LIU}
    assert {k: data["total"][k] for k in ("sales", "cogs", "gifts", "points")} == \
        {"sales": 81667, "cogs": 27200, "gifts": 1500, "points": 1500}
    assert rows_of(data, "event")["十二月养生讲座"]["sales"] == 45000
    with pytest.raises(NotFound):
        gathered(world["head"], department=str(world["two"].id))
    mine = gathered(world["chen"])
    assert rows_of(mine, "marketer") == {"陈伟": CHEN}
    assert mine["total"]["sales"] == -9800
    # A marketer's report is their own, whatever is asked for.
    with pytest.raises(NotFound):
        gathered(world["chen"], marketer=str(world["liu"].id))
    # Narrowed by a manager: one department, one event.
    assert gathered(world["manager"], department=str(world["two"].id))["total"]["sales"] == -9800
    narrowed = gathered(world["manager"], event=str(world["event"].id))
    assert {k: narrowed["total"][k] for k in ("sales", "cogs", "gifts", "points")} == \
        {"sales": 55000, "cogs": 21600, "gifts": 1500, "points": 0}


def test_a_period_with_nothing_sold(db, world):
    data = gathered(world["manager"], start="2020-01-01", end="2020-01-31")
    assert data["total"]["sales"] == 0 and data["total"]["margin_pct"] is None
    assert all(table["rows"] == [] for table in data["tables"])


def test_the_page_links_every_counted_figure_to_its_records(client, login, world):
    login(world["manager"])
    response = client.get("/reports/profit", query_string=period())
    assert response.status_code == 200
    text = page_text(response)
    for shown in ("利润报表", "按商品", "按会议", "按业务员", "按部门", "¥718.67", "¥276.00",
                  "¥442.67", "61.6 %", "¥412.67", "-¥98.00", "非会议销售", "灵芝孢子粉"):
        assert shown in text, shown
    html = response.get_data(as_text=True)
    liu = world["liu"].id
    assert re.search(rf'/reports/profit/rows\?figure=sales&amp;by=marketer&amp;id={liu}&amp;',
                     html)
    assert "figure=margin" not in html  # worked out, not counted: no records of its own
    orders = world["orders"]
    response = client.get("/reports/profit/rows", query_string={
        **period(), "figure": "sales", "by": "marketer", "id": liu})
    assert response.status_code == 200
    numbers = re.findall(r"XS\d{8}-\d{5}", page_text(response))
    assert sorted(set(numbers)) == sorted([orders["o1"].number, orders["o2"].number])
    assert "¥816.67" in page_text(response)  # the records' total is the figure
    response = client.get("/reports/profit/rows", query_string={
        **period(), "figure": "cogs", "by": "event", "id": "none"})
    assert response.status_code == 200 and "¥60.00" in page_text(response)
    for bad in ({"figure": "margin", "by": "marketer", "id": liu},
                {"figure": "gifts", "by": "product", "id": world["a"].id},
                {"figure": "sales", "by": "nonsense"},
                {"figure": "sales", "by": "event", "id": "abc"}):
        assert client.get("/reports/profit/rows", query_string={**period(), **bad}) \
            .status_code == 404, bad
    refused = client.get("/reports/profit", query_string={"start": "2026-05-01",
                                                           "end": "2026-04-01"})
    assert refused.status_code == 422 and "结束日期早于开始日期" in page_text(refused)


def test_roles(client, login, world):
    paths = ["/reports/profit", "/reports/profit.pdf", "/reports/profit.xlsx",
             "/reports/profit/rows?figure=sales&by=all"]
    for role in ("event_staff", "warehouse"):
        login(role)
        assert [client.get(path).status_code for path in paths] == [403] * len(paths), role
        client.post("/auth/logout")
    login(world["chen"])
    response = client.get("/reports/profit", query_string=period())
    assert response.status_code == 200 and "刘芳" not in page_text(response)
    assert client.get("/reports/profit", query_string={
        **period(), "marketer": world["liu"].id}).status_code == 404
    client.post("/auth/logout")
    login(world["finance"])
    assert client.get("/reports/profit", query_string=period()).status_code == 200
    index = page_text(client.get("/reports/"))
    assert "利润报表" in index


def test_the_pdf_in_chinese(client, login, world, tmp_path):
    login(world["manager"])
    response = client.get("/reports/profit.pdf", query_string=period())
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    path = tmp_path / "profit.pdf"
    path.write_bytes(response.data)
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True,
                          text=True, check=True).stdout
    text = re.sub(r"\s+", " ", text)
    for shown in ("利润报表", "按商品", "按会议", "按业务员", "按部门", "销售额", "商品成本", "毛利",
                  "毛利率", "赠品成本", "积分兑换成本", "灵芝孢子粉", "深海鱼油", "十二月养生讲座",
                  "非会议销售", "刘芳", "陈伟", "销售一部", "李总", "¥718.67", "¥276.00",
                  "¥442.67", "61.6 %", "-¥98.00"):
        assert shown in text, shown


def test_the_xlsx_has_a_sheet_per_breakdown(client, login, world):
    login(world["manager"])
    response = client.get("/reports/profit.xlsx", query_string=period())
    assert response.status_code == 200
    book = load_workbook(io.BytesIO(response.data))
    assert book.sheetnames == ["按商品", "按会议", "按业务员", "按部门"]
    rows = [list(r) for r in book["按商品"].iter_rows(values_only=True)]
    assert rows[0] == ["商品", "说明", "销量", "销售额", "商品成本", "毛利", "毛利率"]
    assert rows[1:] == [["灵芝孢子粉", "LZ-001 · 盒", 3, 527.95, 180, 347.95, 65.9],
                        ["深海鱼油", "YY-001 · 盒", 2, 190.72, 96, 94.72, 49.7],
                        ["合计", None, 5, 718.67, 276, 442.67, 61.6]]
    rows = [list(r) for r in book["按业务员"].iter_rows(values_only=True)]
    assert rows[0] == ["业务员", "说明", "销售额", "商品成本", "毛利", "毛利率", "赠品成本",
                       "积分兑换成本", "扣除赠品积分后毛利"]
    assert rows[1:] == [["刘芳", "销售一部", 816.67, 272, 544.67, 66.7, 15, 15, 514.67],
                        ["陈伟", "销售二部", -98, 4, -102, None, 0, 0, -102],
                        ["合计", None, 718.67, 276, 442.67, 61.6, 15, 15, 412.67]]

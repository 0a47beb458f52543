"""The cost of goods sold, defined once (models/orders/cogs.py), with custody in either mode
(#25 §4, §7): the same deal — goods taken home, goods left in custody, a pickup, a return of
held goods and one of goods taken home — costs the same in a reserved and a pooled warehouse,
in every figure that counts it (the profit report, the event ROI, the customer's lifetime
figures, a period's cost per customer). A pooled promise counts at the product's standard cost
when sold, whatever the batch collected later costs or the standard cost becomes."""
from datetime import timedelta

import pytest
from sqlalchemy import update

from extensions import db as _db
from models import checkin as ci, custody as cu, events as ev, inventory as inv, order_taking
from models import orders as o
from models.base import new_token, utcnow
from models.clock import day_start, local_day
from models.ledgers import check_ledgers
from models.orders import OrderLine
from models.settings import update_settings
from reports import event_roi, profit
from reports.params import parse
from tests.factories import make_event

pytestmark = pytest.mark.shop(price=10000, stock=50)

MODES = ("reserved", "pooled")


@pytest.fixture(params=MODES)
def mode(request, shop):
    inv.set_custody_mode(shop.warehouse, request.param, actor=shop.manager)
    return request.param


def period(user):
    today = local_day(utcnow())
    return parse({"start": (today - timedelta(days=1)).isoformat(), "end": today.isoformat()},
                 user)


def cogs_everywhere(shop, event):
    """The cost of goods sold as each figure counting it says it."""
    params = period(shop.manager)
    data = profit.gather(params)
    [product_row] = [row for table in data["tables"] if table["by"] == "product"
                     for row in table["rows"]]
    return {"profit": data["total"]["cogs"], "profit_product": product_row["cogs"],
            "event_roi": event_roi.headlines([event])[event.id]["cogs"],
            "customer": o.customer_figures(shop.customer)["cogs"],
            "customer_period": o.cogs_by_customer(
                [shop.customer.id], since=params.since, until=params.until)[shop.customer.id]}


def test_the_same_deal_costs_the_same_in_both_modes(app, db, shop, mode):
    """王大爷 comes to the lecture and buys 6 boxes at ¥100 (each received at ¥60, the standard
    cost): a line of 2 taken home and a line of 4 left in custody. He pays ¥300 (half: 2 of the
    4 may be collected) and collects 1. Then 1 held box is returned, and 1 taken home comes back
    into stock; 2 are still held.
    By hand: sales 60000 − 10000 − 10000 = 40000; cost of goods sold 6 × 6000 − 6000 (the held
    box returned) − 6000 (the box back in stock) = 24000 — the pickup costs nothing more;
    margin 16000."""
    event = make_event(shop.manager, title="养生讲座")
    invitation = ev.invite(event, shop.customer, actor=shop.marketer)
    ci.check_in(event, invitation, actor=shop.manager, token=new_token())
    order = order_taking.create_order(
        shop.customer, lines=[{"product": shop.product, "quantity": 2},
                              {"product": shop.product, "quantity": 4, "held": 4}],
        actor=shop.marketer, token=new_token(), warehouse=shop.warehouse, event=event)
    home, held = order.lines
    o.receive_payment(order, amount=30000, method="cash", actor=shop.finance, token=new_token())
    cu.pick_up(shop.customer, {held.id: 1}, actor=shop.clerk, token=new_token())
    for line in (held, home):
        order_taking.return_goods(order, line, quantity=1, reason="不想要了",
                                  approver=shop.manager, actor=shop.manager, token=new_token())
    assert [row["held"] for row in cu.holdings(shop.customer)] == [2]
    assert (home.held_unit_cost, held.held_unit_cost) == \
        ((None, 6000) if mode == "pooled" else (None, None))

    assert cogs_everywhere(shop, event) == dict.fromkeys(
        ("profit", "profit_product", "event_roi", "customer", "customer_period"), 24000)
    figures = o.customer_figures(shop.customer)
    assert (figures["sales"], figures["margin"]) == (40000, 16000)
    # The records behind the profit report's figure add up to it, and say what they are.
    with app.test_request_context():
        found, more = profit.rows_behind(period(shop.manager), "cogs", "all", None)
    assert not more and sum(value for _label, value, _m, _url in found) == 24000
    # Handed over: home 2, onto the custody shelf (or promised, at the standard cost) 4; back
    # off the shelf (or returned while held), back in stock.
    assert sorted(value for _label, value, _m, _url in found) == [-6000, -6000, 12000, 24000]
    if mode == "pooled":
        assert any("按标准成本" in label and value == 24000 for label, value, _m, _u in found)
        assert any("寄存中退货" in label and value == -6000 for label, value, _m, _u in found)


def test_a_pooled_promise_counts_at_the_standard_cost_when_sold(db, shop):
    """深海鱼油's standard cost is ¥30 but its batch was received at ¥32. Two bottles left in
    pooled custody count 2 × 3000 = 6000 when sold. The standard cost rises to ¥35 and the
    bottles are collected (the pickup issues the ¥32 batch: the stock's value falls by 6400):
    the sale still cost 6000. A large order promised in pooled custody counts nothing until it is
    confirmed, then at the standard cost of the confirmation (¥35)."""
    inv.set_custody_mode(shop.warehouse, "pooled", actor=shop.manager)
    data = {"sku": "YY-01", "name": "深海鱼油", "unit": "瓶", "sale_price": 10000,
            "standard_cost": 3000, "for_sale": True}
    oil = inv.create_product(data, actor=shop.clerk)
    inv.receive(product=oil, quantity=20, warehouse=shop.warehouse, actor=shop.clerk,
                batch_number="Y1", unit_cost=3200)
    order = order_taking.create_order(
        shop.customer, lines=[{"product": oil, "quantity": 2, "held": 2}], actor=shop.marketer,
        token=new_token(), warehouse=shop.warehouse, channel="store")
    assert o.customer_figures(shop.customer)["cogs"] == 6000
    inv.update_product(oil, {**data, "standard_cost": 3500}, actor=shop.clerk)
    o.receive_payment(order, amount=20000, method="cash", actor=shop.finance, token=new_token())
    slip = cu.pick_up(shop.customer, {order.lines[0].id: 2}, actor=shop.clerk,
                      token=new_token())
    [move] = _db.session.scalars(inv.moves_query(product=oil).where(
        inv.StockMove.document_type == cu.DOCUMENT, inv.StockMove.document_id == slip.id))
    assert move.value == 6400
    assert o.customer_figures(shop.customer)["cogs"] == 6000

    update_settings({"orders.large_order_yuan": 500}, actor=shop.admin)
    large = order_taking.create_order(
        shop.customer, lines=[{"product": oil, "quantity": 10, "held": 10}],
        actor=shop.marketer, token=new_token(), warehouse=shop.warehouse, channel="store")
    assert large.is_pending and large.lines[0].held_unit_cost is None
    assert o.customer_figures(shop.customer)["cogs"] == 6000
    order_taking.confirm_order(large, confirmer=shop.manager, actor=shop.manager)
    assert large.lines[0].held_unit_cost == 3500
    assert o.customer_figures(shop.customer)["cogs"] == 6000 + 10 * 3500


def test_a_period_counts_the_goods_of_its_orders_and_the_returns_dated_in_it(db, shop):
    """A pooled sale of last month (3 boxes held, ¥60 each) belongs to last month's cost; a held
    box returned this month lowers this month's, as the return lowers this month's sales."""
    inv.set_custody_mode(shop.warehouse, "pooled", actor=shop.manager)
    earlier = utcnow() - timedelta(days=40)
    order = order_taking.create_order(
        shop.customer, lines=[{"product": shop.product, "quantity": 3, "held": 3}],
        actor=shop.marketer, token=new_token(), warehouse=shop.warehouse, channel="store",
        now=earlier)
    order_taking.return_goods(order, order.lines[0], quantity=1, reason="不要了",
                              approver=shop.manager, actor=shop.manager, token=new_token())
    today = local_day(utcnow())
    month_ago = day_start(today - timedelta(days=45)), day_start(today - timedelta(days=30))
    this_month = day_start(today - timedelta(days=1)), day_start(today + timedelta(days=1))
    customer = shop.customer.id
    assert o.cogs_by_customer([customer], since=month_ago[0], until=month_ago[1]) == \
        {customer: 18000}
    assert o.cogs_by_customer([customer], since=this_month[0], until=this_month[1]) == \
        {customer: -6000}
    assert profit.gather(period(shop.manager))["total"]["cogs"] == -6000
    assert o.customer_figures(shop.customer)["cogs"] == 12000


def test_check_ledgers_proves_the_promised_lines_carry_their_cost(db, shop, mode):
    """Exactly the lines promised in pooled custody carry the cost they count at: a line
    promised without it, or one with it and nothing promised, is named."""
    order = order_taking.create_order(
        shop.customer, lines=[{"product": shop.product, "quantity": 2, "held": 2}],
        actor=shop.marketer, token=new_token(), warehouse=shop.warehouse, channel="store")
    line = order.lines[0]
    assert check_ledgers()["custody"] == []
    _db.session.execute(update(OrderLine).where(OrderLine.id == line.id).values(
        held_unit_cost=None if mode == "pooled" else 6000))
    [problem] = check_ledgers()["custody"]
    assert problem.startswith(f"order line {line.id}: ")
    assert ("without the cost" in problem) == (mode == "pooled")

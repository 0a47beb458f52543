"""Custody as working stock (#25 §7): a warehouse keeps goods held for customers on a reserved
custody shelf (the default) or pooled — a promise on the custody ledger while the goods stay in
ordinary stock, issued first expiry first when collected. The same deal, pickup and return side
by side in both modes; the confirmation an issue below the promise needs; the nightly list of
products short of their promise; check-ledgers in both modes and on a broken promise."""
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from extensions import db as _db
from models import custody as cu, gifts, inventory as inv, order_taking, orders as o, points
from models import redemptions
from models.audit import AuditEntry
from models.base import Conflict, new_token, utcnow
from models.clock import local_day
from models.ledgers import check_ledgers
from tests.factories import make_order

pytestmark = pytest.mark.shop(price=10000, stock=50)

MODES = ("reserved", "pooled")


@pytest.fixture(params=MODES)
def mode(request, shop):
    """The shop's warehouse in each custody mode (switched while nothing is held)."""
    inv.set_custody_mode(shop.warehouse, request.param, actor=shop.manager)
    return request.param


def stock_row(shop, product=None):
    """The stock screen's row of the product in the shop's warehouse: on hand, promised, free."""
    [row] = [r for r in inv.free_to_sell(shop.warehouse)
             if r["product"].id == (product or shop.product).id]
    return row["on_hand"], row["promised"], row["free"]


def on_shelf(shop, kind="stock", product=None):
    return inv.quantity_in(inv.location_of(shop.warehouse, kind), product or shop.product)


def held_order(shop, quantity=10, held=10):
    """The customer's order of `quantity` boxes at ¥100, `held` of them left in custody."""
    return make_order(shop.customer, warehouse=shop.warehouse, actor=shop.marketer,
                      lines=[{"product": shop.product, "quantity": quantity, "held": held}])


def problems():
    return {name: found for name, found in check_ledgers().items() if found}


def refused(error, operation):
    """Run `operation`, expect `error`, and undo what it wrote (the route rolls back)."""
    savepoint = _db.session.begin_nested()
    with pytest.raises(error) as raised:
        operation()
    savepoint.rollback()
    _db.session.expire_all()
    return raised.value


def test_a_deposit_partial_pickup_and_return_in_both_modes(db, shop, mode):
    order = held_order(shop)
    line = order.lines[0]
    # The deposit: 10 boxes held; the stock screen says the same in both modes.
    assert [(r["held"], r["pickable"]) for r in cu.holdings(shop.customer)] == [(10, 0)]
    assert stock_row(shop) == (50, 10, 40)
    moves = inv.moves_query(product=shop.product).where(inv.StockMove.reason != "receipt")
    if mode == "reserved":
        assert (on_shelf(shop), on_shelf(shop, "custody")) == (40, 10)
        assert [m.reason for m in _db.session.scalars(moves)] == ["custody_deposit"]
    else:  # a promise: the goods stay in ordinary stock, nothing moved
        assert (on_shelf(shop), on_shelf(shop, "custody")) == (50, 0)
        assert _db.session.scalars(moves).all() == []
        [entry] = cu.entries_of(shop.customer)
        assert (entry.kind, entry.quantity, entry.batch_id) == ("deposit", 10, None)
    assert problems() == {}

    # Half paid: 5 may be collected; 3 are.
    o.receive_payment(order, amount=50000, method="cash", actor=shop.finance, token=new_token())
    slip = cu.pick_up(shop.customer, {line.id: 3}, actor=shop.clerk, token=new_token())
    [move] = _db.session.scalars(select(inv.StockMove).where(
        inv.StockMove.document_type == cu.DOCUMENT, inv.StockMove.document_id == slip.id))
    assert (move.reason, move.quantity, move.to_location.kind) == ("custody_pickup", 3,
                                                                   "customer")
    assert move.from_location.kind == ("custody" if mode == "reserved" else "stock")
    assert [(r["held"], r["pickable"]) for r in cu.holdings(shop.customer)] == [(7, 2)]
    assert stock_row(shop) == (47, 7, 40)
    assert (on_shelf(shop), on_shelf(shop, "custody")) == \
        ((40, 7) if mode == "reserved" else (47, 0))
    assert cu.balances_by_product(shop.customer) == [(shop.product, 7)]
    [pickup_entry] = [e for e in cu.entries_of(shop.customer) if e.kind == "pickup"]
    assert pickup_entry.handed_batch.number == "B1"  # the slip names the batch handed over
    assert problems() == {}

    # Two of the held boxes returned: only the promise goes down in pooled mode.
    order_taking.return_goods(order, line, quantity=2, reason="不想要了", approver=shop.finance,
                              actor=shop.finance, token=new_token())
    # ¥500 paid of the ¥800 the order is now worth: 10 × 5/8 = 6 may have been collected.
    assert [(r["held"], r["pickable"]) for r in cu.holdings(shop.customer)] == [(5, 3)]
    assert stock_row(shop) == (47, 5, 42)
    assert (on_shelf(shop), on_shelf(shop, "custody")) == \
        ((42, 5) if mode == "reserved" else (47, 0))
    assert problems() == {}


def test_a_pooled_pickup_issues_first_expiry_first_and_never_an_expired_batch(db, shop):
    inv.set_custody_mode(shop.warehouse, "pooled", actor=shop.manager)
    today = local_day(utcnow())
    product = inv.create_product({"sku": "YY-01", "name": "深海鱼油", "unit": "瓶",
                                  "sale_price": 10000, "standard_cost": 3000,
                                  "for_sale": True}, actor=shop.clerk)
    for number, expiry, quantity in (("LATE", today + timedelta(days=400), 5),
                                     ("SOON", today + timedelta(days=100), 2),
                                     ("GONE", today - timedelta(days=1), 4)):
        inv.receive(product=product, quantity=quantity, warehouse=shop.warehouse,
                    actor=shop.clerk, batch_number=number, expiry_date=expiry)
    order = make_order(shop.customer, warehouse=shop.warehouse, actor=shop.marketer,
                       lines=[{"product": product, "quantity": 4, "held": 4}])
    o.receive_payment(order, amount=40000, method="cash", actor=shop.finance, token=new_token())
    slip = cu.pick_up(shop.customer, {order.lines[0].id: 4}, actor=shop.clerk,
                      token=new_token())
    moves = _db.session.scalars(select(inv.StockMove).where(
        inv.StockMove.document_type == cu.DOCUMENT, inv.StockMove.document_id == slip.id)
        .order_by(inv.StockMove.id)).all()
    assert [(m.batch.number, m.quantity) for m in moves] == [("SOON", 2), ("LATE", 2)]
    # Each pickup entry names the move that handed its goods over.
    assert sorted(-e.quantity for e in cu.entries_of(shop.customer) if e.kind == "pickup") == \
        [2, 2]
    assert problems() == {}


def test_a_pooled_pickup_reversed_puts_the_goods_back_in_stock_and_the_promise_back(db, shop):
    inv.set_custody_mode(shop.warehouse, "pooled", actor=shop.manager)
    order = held_order(shop)
    o.receive_payment(order, amount=100000, method="cash", actor=shop.finance,
                      token=new_token())
    cu.pick_up(shop.customer, {order.lines[0].id: 4}, actor=shop.clerk, token=new_token())
    assert stock_row(shop) == (46, 6, 40)
    [entry] = [e for e in cu.entries_of(shop.customer) if e.kind == "pickup"]
    cu.reverse_entry(entry, reason="没拿走", actor=shop.clerk)
    assert stock_row(shop) == (50, 10, 40)
    assert problems() == {}


def test_an_issue_below_the_promise_needs_a_confirmation_in_pooled_mode_only(db, shop, mode):
    held_order(shop, quantity=45, held=45)
    five = [{"product": shop.product, "quantity": 5}]
    six = [{"product": shop.product, "quantity": 6}]
    # Five more taken home leave on hand (45) equal to the promise: no question in either mode.
    make_order(shop.customer, warehouse=shop.warehouse, actor=shop.marketer, lines=five)
    assert stock_row(shop) == (45, 45, 0)
    if mode == "reserved":  # the held boxes are on their shelf: there is nothing left to sell
        refusal = refused(Conflict, lambda: make_order(
            shop.customer, warehouse=shop.warehouse, actor=shop.marketer,
            lines=[{"product": shop.product, "quantity": 1}]))
        assert not isinstance(refusal, inv.BelowPromise)
        return
    refusal = refused(inv.BelowPromise, lambda: make_order(
        shop.customer, warehouse=shop.warehouse, actor=shop.marketer, lines=six))
    assert refusal.field == "confirm_below_promise"
    assert "39" in refusal.message and "45" in refusal.message
    assert stock_row(shop) == (45, 45, 0)
    make_order(shop.customer, warehouse=shop.warehouse, actor=shop.marketer, lines=six,
               confirm_below_promise=True)
    assert stock_row(shop) == (39, 45, -6)
    # A stock-out document: a scrap and a transfer ask the same, per document.
    other = inv.create_warehouse({"code": "VEN", "name": "会场"}, actor=shop.clerk)
    line = [{"product": shop.product, "quantity": 1}]
    refused(inv.BelowPromise, lambda: inv.create_scrap(
        warehouse=shop.warehouse, lines=line, actor=shop.clerk, token=new_token(), note="破损"))
    refused(inv.BelowPromise, lambda: inv.create_transfer(
        warehouse=shop.warehouse, to_warehouse=other, lines=line, actor=shop.clerk,
        token=new_token()))
    inv.create_transfer(warehouse=shop.warehouse, to_warehouse=other, lines=line,
                        actor=shop.clerk, token=new_token(), confirm_below_promise=True)
    assert stock_row(shop) == (38, 45, -7)
    # A pickup is never asked: it lowers the stock and the promise together.
    order = o.Order.query.filter_by(customer_id=shop.customer.id).order_by(o.Order.id).first()
    o.receive_payment(order, amount=order.balance_due, method="cash", actor=shop.finance,
                      token=new_token())
    cu.pick_up(shop.customer, {order.lines[0].id: 2}, actor=shop.clerk, token=new_token())
    assert stock_row(shop) == (36, 43, -7)
    assert problems() == {}


def test_a_gift_or_a_redemption_below_the_promise_asks_too(db, shop):
    """Points redeemed into a pooled warehouse's custody are a promise valued at the standard
    cost; a manual gift and a redemption taken home that go below it ask for the confirmation."""
    inv.set_custody_mode(shop.warehouse, "pooled", actor=shop.manager)
    points.adjust(shop.customer, 5000, reason="测试", actor=shop.manager, token=new_token())
    kept = redemptions.redeem(shop.customer, [(shop.cup, 8)], warehouse=shop.warehouse,
                              actor=shop.clerk, token=new_token(), in_custody=True)
    assert kept.cost == 8 * 1500  # 8 cups promised at their standard cost
    assert stock_row(shop, shop.cup) == (10, 8, 2)
    refused(inv.BelowPromise, lambda: redemptions.redeem(
        shop.customer, [(shop.cup, 3)], warehouse=shop.warehouse, actor=shop.clerk,
        token=new_token()))
    order = held_order(shop, quantity=1, held=0)
    refused(inv.BelowPromise, lambda: gifts.issue_manual_gift(
        order, product=shop.cup, quantity=3, actor=shop.manager, token=new_token(),
        note="老顾客"))
    gifts.issue_manual_gift(order, product=shop.cup, quantity=3, actor=shop.manager,
                            token=new_token(), note="老顾客", confirm_below_promise=True)
    assert stock_row(shop, shop.cup) == (7, 8, -1)
    assert problems() == {}


def test_the_nightly_list_names_the_products_short_of_their_promise(db, shop):
    inv.set_custody_mode(shop.warehouse, "pooled", actor=shop.manager)
    held_order(shop, quantity=48, held=48)
    make_order(shop.customer, warehouse=shop.warehouse, actor=shop.marketer,
               lines=[{"product": shop.product, "quantity": 5}], confirm_below_promise=True)
    today = local_day(utcnow())
    from jobs import stock
    assert stock.shortfalls(today) == 1
    assert stock.shortfalls(today) == 0  # a re-run writes nothing twice
    day, rows = inv.shortfalls()
    assert day == today
    assert [(r.product.name, r.on_hand, r.promised, r.free) for r in rows] == \
        [("灵芝孢子粉", 45, 48, -3)]
    assert inv.shortfalls(today - timedelta(days=1)) == (today - timedelta(days=1), [])


def test_the_mode_changes_only_while_nothing_is_held(db, shop):
    order = held_order(shop, quantity=2, held=2)
    refusal = refused(Conflict, lambda: inv.set_custody_mode(shop.warehouse, "pooled",
                                                             actor=shop.manager))
    assert refusal.field == "custody_mode"
    assert _db.session.scalar(select(inv.Warehouse.custody_mode)) == "reserved"
    o.receive_payment(order, amount=20000, method="cash", actor=shop.finance, token=new_token())
    cu.pick_up(shop.customer, {order.lines[0].id: 2}, actor=shop.clerk, token=new_token())
    inv.update_warehouse(shop.warehouse, {"code": shop.warehouse.code,
                                          "name": shop.warehouse.name,
                                          "custody_mode": "pooled"}, actor=shop.manager)
    assert shop.warehouse.custody_mode == "pooled"
    assert _db.session.scalar(select(func.count(AuditEntry.id)).where(
        AuditEntry.action == "warehouse.custody_mode")) == 1
    # The pickup was from the custody shelf: it cannot be undone into a pooled warehouse.
    [entry] = [e for e in cu.entries_of(shop.customer) if e.kind == "pickup"]
    with pytest.raises(Conflict):
        cu.reverse_entry(entry, reason="没拿走", actor=shop.clerk)
    held_order(shop, quantity=1, held=1)
    with pytest.raises(Conflict):
        inv.set_custody_mode(shop.warehouse, "reserved", actor=shop.manager)
    assert problems() == {}


def test_check_ledgers_finds_a_broken_promise(db, shop):
    inv.set_custody_mode(shop.warehouse, "pooled", actor=shop.manager)
    order = held_order(shop)
    o.receive_payment(order, amount=100000, method="cash", actor=shop.finance,
                      token=new_token())
    cu.pick_up(shop.customer, {order.lines[0].id: 3}, actor=shop.clerk, token=new_token())
    assert problems() == {}
    [entry] = [e for e in cu.entries_of(shop.customer) if e.kind == "pickup"]
    move_id = entry.stock_move_id
    # A pickup that says more left than its stock move handed over.
    _db.session.execute(update(cu.CustodyEntry).where(cu.CustodyEntry.id == entry.id)
                        .values(quantity=-4))
    assert any(f"custody entry {entry.id}" in p and "does not match" in p
               for p in problems()["custody"])
    # A pickup with no stock move at all (the goods left the promise but not the stock).
    _db.session.execute(update(cu.CustodyEntry).where(cu.CustodyEntry.id == entry.id)
                        .values(quantity=-3, stock_move_id=None))
    assert any("no stock move" in p for p in problems()["custody"])
    _db.session.execute(update(cu.CustodyEntry).where(cu.CustodyEntry.id == entry.id)
                        .values(stock_move_id=move_id))
    _db.session.expire_all()
    assert problems() == {}
    # More collected than was promised: a balance below zero.
    _db.session.execute(update(cu.CustodyEntry).where(cu.CustodyEntry.kind == "deposit")
                        .values(quantity=2))
    assert any("balance -1" in p for p in problems()["custody"])
    _db.session.execute(update(cu.CustodyEntry).where(cu.CustodyEntry.kind == "deposit")
                        .values(quantity=10))
    # A promise kept in a warehouse switched behind the app's back to a reserved shelf.
    _db.session.execute(update(inv.Warehouse).where(inv.Warehouse.id == shop.warehouse.id)
                        .values(custody_mode="reserved"))
    assert any("kept as a promise" in p for p in problems()["custody"])


def test_check_ledgers_in_reserved_mode_still_compares_the_shelf(db, shop):
    held_order(shop)
    assert problems() == {}
    shelf = inv.location_of(shop.warehouse, "custody")
    _db.session.execute(update(inv.StockQuant).where(inv.StockQuant.location_id == shelf.id)
                        .values(quantity=9))
    found = problems()
    assert any("customers hold 10, the shelf has 9" in p for p in found["custody"])

"""Custody: goods left with the company, collected only as far as they are paid for, box by box;
the ledger always equals the custody shelf."""
from contextlib import contextmanager
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from sqlalchemy import event, func, select

from extensions import db as _db
from models import custody as cu, inventory as inv, order_taking, orders as o
from models.accounts import User
from models.base import Conflict, InvalidInput, PermissionDenied, begin_write, new_token, utcnow
from models.customers import Customer
from models.ledgers import check_ledgers
from models.settings import update_settings
from models.timeline import timeline_of
from tests.factories import (company_today, make_customer, make_order, make_product,
                             make_stocked_product, make_user, make_warehouse)
from tests.races import race


pytestmark = pytest.mark.shop(price=10000)


@pytest.fixture
def order(shop):
    """The customer's order of 10 boxes (¥1,000), all left in custody."""
    return make_order(shop.customer, warehouse=shop.warehouse, actor=shop.marketer,
                      lines=[{"product": shop.product, "quantity": 10, "held": 10}])


def pick(customer, line, n, clerk, **kw):
    return cu.pick_up(customer, {line.id: n}, actor=clerk, token=new_token(), **kw)


def ledgers_clean():
    return all(problems == [] for problems in check_ledgers().values())


def test_goods_left_in_custody_are_on_the_custody_shelf(db, shop, order):
    warehouse, customer, product = shop.warehouse, shop.customer, shop.product
    [row] = cu.holdings(customer)
    assert (row["held"], row["pickable"], row["due"]) == (10, 0, 100000)
    assert inv.quantity_in(inv.location_of(warehouse, "custody"), product) == 10
    assert inv.quantity_in(inv.location_of(warehouse), product) == 40
    assert ledgers_clean()


def test_only_the_paid_share_may_be_collected(db, shop, order):
    warehouse, marketer, clerk, finance, customer, product = (
        shop.warehouse, shop.marketer, shop.clerk, shop.finance, shop.customer, shop.product)
    line = order.lines[0]
    with pytest.raises(Conflict, match="现在只能领 0"):
        pick(customer, line, 1, clerk)
    o.receive_payment(order, amount=30000, method="cash", actor=finance, token=new_token())
    assert cu.pickable(order, line) == 3  # 30% paid: 3 of 10
    with pytest.raises(Conflict, match="现在只能领 3"):
        pick(customer, line, 4, clerk)
    slip = pick(customer, line, 2, clerk, collected_by="王小明", relation="儿子")
    assert slip.number.startswith("TH") and cu.pickable(order, line) == 1
    o.receive_payment(order, amount=70000, method="cash", actor=finance, token=new_token())
    assert cu.pickable(order, line) == 8  # paid in full: everything left
    pick(customer, line, 8, clerk)
    assert cu.holdings(customer) == []
    assert "王小明（儿子）代领" in " ".join(item.detail for item in timeline_of(customer))
    assert ledgers_clean()


def test_the_full_payment_rule_and_a_managers_early_release(db, shop, order):
    warehouse, marketer, clerk, finance, customer, product = (
        shop.warehouse, shop.marketer, shop.clerk, shop.finance, shop.customer, shop.product)
    line = order.lines[0]
    update_settings({"custody.release_rule": "full"}, actor=make_user(["admin"]))
    o.receive_payment(order, amount=90000, method="cash", actor=finance, token=new_token())
    assert cu.pickable(order, line) == 0
    with pytest.raises(PermissionDenied):
        pick(customer, line, 1, clerk, release_reason="老顾客")
    manager = make_user(["manager"])
    slip = pick(customer, line, 2, manager, release_reason="老顾客，下周补款")
    assert slip.released_by_id == manager.id


def test_bad_pickups_are_refused_and_write_nothing(db, shop, order):
    warehouse, marketer, clerk, finance, customer, product = (
        shop.warehouse, shop.marketer, shop.clerk, shop.finance, shop.customer, shop.product)
    line = order.lines[0]
    o.receive_payment(order, amount=order.total, method="cash", actor=finance,
                      token=new_token())
    with pytest.raises(Conflict, match="只寄存了 10"):
        pick(customer, line, 11, clerk)
    with pytest.raises(InvalidInput):
        pick(customer, line, -1, clerk)
    with pytest.raises(PermissionDenied):
        pick(customer, line, 1, marketer)
    stranger = make_customer(marketer, name="路人")
    with pytest.raises(Exception, match="不是这位顾客的"):
        pick(stranger, line, 1, clerk)
    assert _db.session.scalar(select(func.count(cu.CustodyEntry.id)).where(
        cu.CustodyEntry.kind == "pickup")) == 0
    token = new_token()
    first = cu.pick_up(customer, {line.id: 1}, actor=clerk, token=token)
    assert cu.pick_up(customer, {line.id: 1}, actor=clerk, token=token) is first


def test_expired_goods_are_never_handed_over(db, shop, order):
    warehouse, marketer, clerk, finance, customer = (
        shop.warehouse, shop.marketer, shop.clerk, shop.finance, shop.customer)
    old = make_product("过期蜂胶")
    inv.receive(product=old, quantity=2, warehouse=warehouse, actor=clerk, batch_number="OLD",
                expiry_date=company_today() + timedelta(days=5))
    order = make_order(customer, warehouse=warehouse, actor=marketer,
                       lines=[{"product": old, "quantity": 2, "held": 2}])
    o.receive_payment(order, amount=order.total, method="cash", actor=finance,
                      token=new_token())
    later = utcnow() + timedelta(days=10)
    with pytest.raises(Conflict, match="已过期"):
        cu.pick_up(customer, {order.lines[0].id: 1}, actor=clerk, token=new_token(), now=later)
    [row] = [r for r in cu.holdings(customer) if r["line"].id == order.lines[0].id]
    assert row["near_expiry"]


def test_returns_and_cancelling_take_goods_out_of_custody(db, shop, order):
    warehouse, marketer, clerk, finance, customer, product = (
        shop.warehouse, shop.marketer, shop.clerk, shop.finance, shop.customer, shop.product)
    manager = make_user(["manager"])
    order_taking.return_goods(order, order.lines[0], quantity=4, reason="不要了", approver=manager,
                              actor=manager, token=new_token())
    assert cu.line_held(order.lines[0].id) == 6
    assert inv.quantity_in(inv.location_of(warehouse), product) == 44
    held_only = make_order(customer, warehouse=warehouse, actor=marketer,
                           lines=[{"product": product, "quantity": 3, "held": 3}])
    order_taking.cancel_order(held_only, reason="改主意", actor=marketer)
    assert cu.line_held(held_only.lines[0].id) == 0
    assert inv.quantity_in(inv.location_of(warehouse), product) == 44
    assert ledgers_clean()


def test_a_mistaken_pickup_is_reversed(db, shop, order):
    warehouse, marketer, clerk, finance, customer, product = (
        shop.warehouse, shop.marketer, shop.clerk, shop.finance, shop.customer, shop.product)
    o.receive_payment(order, amount=order.total, method="cash", actor=finance,
                      token=new_token())
    slip = pick(customer, order.lines[0], 3, clerk)
    [entry] = _db.session.scalars(select(cu.CustodyEntry).where(
        cu.CustodyEntry.pickup_id == slip.id)).all()
    cu.reverse_entry(entry, reason="没拿走", actor=clerk)
    assert cu.line_held(order.lines[0].id) == 10
    with pytest.raises(Conflict):
        cu.reverse_entry(entry, reason="再来", actor=clerk)
    assert ledgers_clean()


def test_reminders_expiry_and_the_report(db, shop, order):
    warehouse, marketer, clerk, finance, customer, product = (
        shop.warehouse, shop.marketer, shop.clerk, shop.finance, shop.customer, shop.product)
    today = company_today()
    assert cu.not_collected(today, days=30) == []
    assert [row[0] for row in cu.not_collected(today + timedelta(days=40), days=30)] == [
        customer.id]
    [row] = cu.report_by_marketer()
    assert row[0] == marketer.display_name and row[1:4] == (1, 10, 10 * 6000)
    assert cu.expiring_held(today) == []


def test_a_department_head_reports_only_their_department(db, shop, order):
    assert [row[0] for row in cu.report_by_marketer(user=shop.head)] == ["刘芳"]
    assert cu.report_by_marketer(user=shop.other_head) == []
    # asking for the other department does not widen a head's view
    assert cu.report_by_marketer(shop.department.id, user=shop.other_head) == []
    assert [row[0] for row in cu.report_by_marketer(user=shop.clerk)] == ["刘芳"]


def test_a_deposit_needs_stock_like_any_move(db, shop, order):
    warehouse, marketer, clerk, finance, customer, product = (
        shop.warehouse, shop.marketer, shop.clerk, shop.finance, shop.customer, shop.product)
    with pytest.raises(Conflict, match="仅有 40"):
        make_order(customer, warehouse=warehouse, actor=marketer,
                   lines=[{"product": product, "quantity": 41, "held": 41}])


steps = st.lists(st.one_of(
    st.tuples(st.just("pay"), st.integers(1, 100000)),
    st.tuples(st.just("pickup"), st.integers(1, 6)),
    st.tuples(st.just("return"), st.integers(1, 5)),
    st.tuples(st.just("reverse"), st.integers(0, 20)),
), min_size=1, max_size=15)


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sequence=steps)
def test_random_custody_keeps_balances_and_shelves_equal(db, sequence):
    warehouse = make_warehouse()
    clerk, finance, manager = make_user(["warehouse"]), make_user(["finance"]), \
        make_user(["manager"])
    customer = make_customer()
    product = make_stocked_product(warehouse, 30, sale_price=10000)
    order = make_order(customer, warehouse=warehouse, actor=customer.owner,
                       lines=[{"product": product, "quantity": 12, "held": 12}])
    line = order.lines[0]
    for step in sequence:
        try:
            if step[0] == "pay":
                o.receive_payment(order, amount=step[1], method="cash", actor=finance,
                                  token=new_token())
            elif step[0] == "pickup":
                pick(customer, line, step[1], clerk)
            elif step[0] == "return":
                order_taking.return_goods(order, line, quantity=step[1], reason="退",
                                          approver=manager, actor=manager, token=new_token())
            else:
                entries = _db.session.scalars(select(cu.CustodyEntry).where(
                    cu.CustodyEntry.kind == "pickup",
                    cu.CustodyEntry.customer_id == customer.id)).all()
                if entries:
                    cu.reverse_entry(entries[step[1] % len(entries)], reason="错",
                                     actor=clerk)
        except (Conflict, InvalidInput):
            pass
        held = cu.line_held(line.id)
        assert 0 <= held <= 12 and cu.pickable(order, line) <= held
        shelf = inv.quantity_in(inv.location_of(warehouse, "custody"), product)
        assert shelf == held
    assert ledgers_clean()


def test_two_tablets_picking_the_last_box_leave_one_pickup(app, committed_db):
    warehouse = make_warehouse()
    clerks = [make_user(["warehouse"]) for _ in range(2)]
    finance = make_user(["finance"])
    customer = make_customer()
    product = make_stocked_product(warehouse, 5, sale_price=10000)
    order = make_order(customer, warehouse=warehouse, actor=customer.owner,
                       lines=[{"product": product, "quantity": 1, "held": 1}])
    o.receive_payment(order, amount=order.total, method="cash", actor=finance,
                      token=new_token())
    _db.session.commit()
    ids = (customer.id, order.lines[0].id, [c.id for c in clerks])
    done, refused = [], []

    def tablet(clerk_id):
        begin_write()
        try:
            cu.pick_up(_db.session.get(Customer, ids[0]), {ids[1]: 1},
                       actor=_db.session.get(User, clerk_id), token=new_token())
        except Conflict:
            refused.append(clerk_id)
            return
        _db.session.commit()
        done.append(clerk_id)

    errors = race(tablet, ids[2], app=app, timeout=30)
    assert errors == [] and (len(done), len(refused)) == (1, 1)
    _db.session.rollback()
    assert _db.session.scalar(select(func.count(cu.CustodyPickup.id))) == 1
    assert ledgers_clean()


@contextmanager
def count_queries():
    """The SQL statements sent inside the block: `with count_queries() as n: ...`, then n[0]."""
    seen = [0]

    def saw(*_args):
        seen[0] += 1
    event.listen(_db.engine, "before_cursor_execute", saw)
    try:
        yield seen
    finally:
        event.remove(_db.engine, "before_cursor_execute", saw)


def test_holdings_and_a_pickup_over_several_orders_lines_and_batches(db, shop, order):
    warehouse, marketer, clerk, finance, customer = (
        shop.warehouse, shop.marketer, shop.clerk, shop.finance, shop.customer)
    first = order
    today = company_today()
    fish_oil = make_product("深海鱼油", sale_price=10000)
    inv.receive(product=fish_oil, quantity=3, warehouse=warehouse, actor=clerk,
                batch_number="EARLY", expiry_date=today + timedelta(days=100))
    inv.receive(product=fish_oil, quantity=20, warehouse=warehouse, actor=clerk,
                batch_number="LATE", expiry_date=today + timedelta(days=300))
    paid = make_order(customer, warehouse=warehouse, actor=marketer,
                      lines=[{"product": fish_oil, "quantity": 5, "held": 5}])  # 3 EARLY, 2 LATE
    o.receive_payment(paid, amount=paid.total, method="cash", actor=finance, token=new_token())
    o.receive_payment(first, amount=50000, method="cash", actor=finance, token=new_token())
    oil, half = paid.lines[0], first.lines[0]

    cu.holdings(customer)  # settings read once
    with count_queries() as two_rows:
        rows = cu.holdings(customer)
    assert [(r["line"].id, r["held"], r["pickable"]) for r in rows] == [
        (half.id, 10, 5), (oil.id, 5, 5)]
    for row in rows:  # one rule: the page says what pickable() says
        assert row["pickable"] == cu.pickable(row["order"], row["line"])
        assert row["held"] == cu.line_held(row["line"].id)
    assert rows[1]["expiry"] == today + timedelta(days=100) and not rows[1]["near_expiry"]
    more = make_order(customer, warehouse=warehouse, actor=marketer,
                      lines=[{"product": fish_oil, "quantity": 2, "held": 2}])
    with count_queries() as three_rows:
        assert len(cu.holdings(customer)) == 3
    assert three_rows[0] == two_rows[0] <= 5  # set-based: not a query per row

    # A refused line refuses the whole slip, whatever came before it.
    entries = _db.session.scalar(select(func.count(cu.CustodyEntry.id)))
    with pytest.raises(Conflict, match="现在只能领 0"), _db.session.begin_nested():
        cu.pick_up(customer, {oil.id: 1, half.id: 1, more.lines[0].id: 1}, actor=clerk,
                   token=new_token())
    assert _db.session.scalar(select(func.count(cu.CustodyEntry.id))) == entries

    slip = cu.pick_up(customer, {half.id: 5, oil.id: 4}, actor=clerk, token=new_token())
    taken = _db.session.execute(select(cu.CustodyEntry.order_line_id, inv.Batch.number,
                                       cu.CustodyEntry.quantity)
                                .join(inv.Batch, inv.Batch.id == cu.CustodyEntry.batch_id)
                                .where(cu.CustodyEntry.pickup_id == slip.id)
                                .order_by(cu.CustodyEntry.id)).all()
    assert [tuple(t) for t in taken] == [(half.id, "B1", -5), (oil.id, "EARLY", -3),
                                         (oil.id, "LATE", -1)]  # first expiry first
    assert [(r["line"].id, r["held"], r["pickable"]) for r in cu.holdings(customer)] == [
        (half.id, 5, 0), (oil.id, 1, 1), (more.lines[0].id, 2, 0)]
    assert cu.line_balances(oil.id) == {_db.session.scalar(select(inv.Batch.id).where(
        inv.Batch.number == "LATE", inv.Batch.product_id == fish_oil.id)): 1}
    assert ledgers_clean()


def test_a_pickup_skips_an_expired_batch_for_a_fresh_one(db, shop, order):
    warehouse, marketer, clerk, finance, customer = (
        shop.warehouse, shop.marketer, shop.clerk, shop.finance, shop.customer)
    honey = make_product("蜂胶")
    inv.receive(product=honey, quantity=1, warehouse=warehouse, actor=clerk, batch_number="OLD",
                expiry_date=company_today() + timedelta(days=5))
    inv.receive(product=honey, quantity=4, warehouse=warehouse, actor=clerk, batch_number="NEW",
                expiry_date=company_today() + timedelta(days=400))
    order = make_order(customer, warehouse=warehouse, actor=marketer,
                       lines=[{"product": honey, "quantity": 5, "held": 5}])
    o.receive_payment(order, amount=order.total, method="cash", actor=finance,
                      token=new_token())
    later = utcnow() + timedelta(days=10)
    slip = cu.pick_up(customer, {order.lines[0].id: 4}, actor=clerk, token=new_token(), now=later)
    [entry] = _db.session.scalars(select(cu.CustodyEntry).where(
        cu.CustodyEntry.pickup_id == slip.id)).all()
    assert (entry.batch.number, entry.quantity) == ("NEW", -4)
    with pytest.raises(Conflict, match="已过期"):
        cu.pick_up(customer, {order.lines[0].id: 1}, actor=clerk, token=new_token(), now=later)


def test_finding_holders_leaves_out_matches_holding_nothing(db, shop, order):
    warehouse, marketer, clerk, finance, customer, product = (
        shop.warehouse, shop.marketer, shop.clerk, shop.finance, shop.customer, shop.product)
    empty_handed = make_customer(marketer, name="王二")
    collected = make_customer(marketer, name="王三")
    done = make_order(collected, warehouse=warehouse, actor=marketer,
                      lines=[{"product": product, "quantity": 1, "held": 1}])
    o.receive_payment(done, amount=done.total, method="cash", actor=finance, token=new_token())
    pick(collected, done.lines[0], 1, clerk)
    assert empty_handed.id and cu.find_holders(clerk, "王") == [customer]
    assert cu.find_holders(clerk, customer.phone[-4:]) == [customer]
    assert cu.find_holders(marketer, "王") == [customer]
    assert cu.find_holders(make_user(["marketer"]), "王") == []

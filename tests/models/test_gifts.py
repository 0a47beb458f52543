"""Gifts: rules, one attendance gift per customer per event (also under concurrency), purchase
gifts proposed for mixed carts (hypothesis), manager approval, returns, reversal, cost."""

import pytest
from hypothesis import given, settings, strategies as st
from sqlalchemy import func, select

from extensions import db as _db
from models import checkin as ci, door, events as ev, gifts as g, inventory as inv, order_taking
from models import orders as o
from models.accounts import User
from models.base import (Conflict, InvalidInput, NotFound, PermissionDenied, begin_write,
                         new_token)
from models.customers import Customer
from models.ledgers import check_ledgers
from models.timeline import timeline_of
from tests.factories import (make_customer, make_event, make_order, make_stocked_product,
                             make_user, make_warehouse)
from tests.races import race


@pytest.fixture
def venue(db):
    manager = make_user(["manager"], display_name="李总")
    staff = make_user(["event_staff"], display_name="赵敏")
    marketer = make_user(["marketer"], display_name="刘芳")
    warehouse = make_warehouse("会场物料", kind="venue")
    event = make_event(manager, title="养生讲座")
    g.set_event_warehouse(event, warehouse, actor=manager)
    cup = make_stocked_product(warehouse, 30, name="养生杯", is_gift=True, for_sale=False,
                               standard_cost=1500)
    return event, warehouse, manager, staff, marketer, cup


def arrive(event, marketer, staff, name="张三", companions=0):
    customer = make_customer(marketer, name=name)
    invitation = ev.invite(event, customer, actor=marketer)
    ci.check_in(event, invitation, actor=staff, token=new_token(), companions=companions)
    return customer


def attendance_rule(event, cup, manager, **kw):
    return g.save_rule(None, event=event, kind="attendance", product=cup, quantity=1,
                       actor=manager, **kw)


def cup_stock(warehouse, cup):
    return inv.quantity_in(inv.location_of(warehouse), cup)


def test_one_attendance_gift_per_customer_per_event(db, venue):
    event, warehouse, manager, staff, marketer, cup = venue
    attendance_rule(event, cup, manager, companion_quantity=1)
    customer = arrive(event, marketer, staff, companions=2)
    first = g.issue_attendance_gifts(event, customer, actor=staff, token=new_token())
    assert first.kind == "attendance" and first.cost == 1500
    again = g.issue_attendance_gifts(event, customer, actor=staff, token=new_token())
    assert again is first  # a second tap on another tablet
    assert cup_stock(warehouse, cup) == 30 - 1 - 2  # one + one per companion
    assert first.marketer_id == marketer.id
    assert "到场礼：养生杯 × 1" in [item.title for item in timeline_of(customer)]
    assert check_ledgers()["gifts"] == [] and check_ledgers()["stock"] == []


def test_no_gift_before_check_in_and_none_without_a_rule(db, venue):
    event, warehouse, manager, staff, marketer, cup = venue
    customer = arrive(event, marketer, staff)
    with pytest.raises(Conflict, match="没有设置到场礼"):
        g.issue_attendance_gifts(event, customer, actor=staff, token=new_token())
    attendance_rule(event, cup, manager)
    stranger = make_customer(marketer, name="路人")
    with pytest.raises(Conflict, match="还没有在本场签到"):
        g.issue_attendance_gifts(event, stranger, actor=staff, token=new_token())


def test_invited_only_rules_skip_walk_ins(db, venue):
    event, warehouse, manager, staff, marketer, cup = venue
    attendance_rule(event, cup, manager, attendance_for="invited")
    door.register_walk_in(event, name="临时来宾", phone="13712345678", actor=staff,
                          token=new_token(), owner=marketer)
    walk_in = _db.session.scalar(select(Customer).where(Customer.name == "临时来宾"))
    with pytest.raises(Conflict, match="只送受邀顾客"):
        g.issue_attendance_gifts(event, walk_in, actor=staff, token=new_token())


def test_no_stock_no_gift_and_rules_need_gift_products(db, venue):
    event, warehouse, manager, staff, marketer, cup = venue
    from tests.factories import make_product
    empty = make_product("小米", is_gift=True, for_sale=False)
    attendance_rule(event, empty, manager)
    customer = arrive(event, marketer, staff)
    with pytest.raises(Conflict, match="仅有 0"):
        g.issue_attendance_gifts(event, customer, actor=staff, token=new_token())
    assert _db.session.scalar(select(func.count(g.GiftIssue.id))) == 0
    oil = make_stocked_product(warehouse, 5, name="鱼油")
    with pytest.raises(InvalidInput, match="不是赠品"):
        attendance_rule(event, oil, manager)
    with pytest.raises(InvalidInput, match="整数"):
        g.save_rule(None, event=event, kind="attendance", product=cup, quantity=-1,
                    actor=manager)
    with pytest.raises(PermissionDenied):
        attendance_rule(event, cup, marketer)


def test_a_mistaken_gift_is_taken_back_by_the_warehouse(db, venue):
    event, warehouse, manager, staff, marketer, cup = venue
    attendance_rule(event, cup, manager)
    customer = arrive(event, marketer, staff)
    gift = g.issue_attendance_gifts(event, customer, actor=staff, token=new_token())
    with pytest.raises(PermissionDenied):
        g.reverse_gift(gift, reason="发错了", actor=staff)
    clerk = make_user(["warehouse"])
    g.reverse_gift(gift, reason="发错了", actor=clerk)
    assert cup_stock(warehouse, cup) == 30 and g.event_gift_cost(event) == 0
    with pytest.raises(Conflict, match="已经收回"):
        g.reverse_gift(gift, reason="再来", actor=clerk)
    # The customer's timeline: the gift given by the door's staff, taken back by the clerk.
    assert [(item.kind, item.title, item.actor) for item in timeline_of(customer)
            if item.kind.startswith("gift.")] == [
        ("gift.attendance", "收回 养生杯 × 1", clerk.display_name),
        ("gift.attendance", "到场礼：养生杯 × 1", staff.display_name)]
    assert check_ledgers()["gifts"] == []


def purchase_setup(venue):
    event, warehouse, manager, staff, marketer, cup = venue
    lz = make_stocked_product(warehouse, 100, name="灵芝孢子粉", sale_price=19800)
    g.save_rule(None, event=event, kind="purchase", product=cup, quantity=1, actor=manager,
                condition="product", condition_product=lz, min_quantity=2, repeats=True)
    g.save_rule(None, event=None, kind="purchase", product=cup, quantity=3, actor=manager,
                condition="spend", min_spend=100000, exclusive_group="满额")
    g.save_rule(None, event=None, kind="purchase", product=cup, quantity=5, actor=manager,
                condition="spend", min_spend=150000, exclusive_group="满额")
    return lz


def test_purchase_gifts_are_proposed_issued_and_follow_returns(db, venue):
    event, warehouse, manager, staff, marketer, cup = venue
    lz = purchase_setup(venue)
    customer = arrive(event, marketer, staff)
    order = make_order(customer, warehouse=warehouse, actor=marketer, channel="event",
                       event=event, lines=[{"product": lz, "quantity": 8}])  # ¥1,584
    proposal = g.proposal_for(order)
    assert [(rule.condition, quantity) for rule, quantity in proposal] == [
        ("product", 4), ("spend", 5)]  # 8 ÷ 2 = 4; the ¥1,500 rule beats the ¥1,000 one
    with pytest.raises(PermissionDenied, match="规则"):
        g.issue_purchase_gifts(order, rule_ids=[9999], actor=marketer, token=new_token())
    kept = [proposal[0][0].id]  # staff drop the spend gift
    with pytest.raises(Conflict, match="付定金后才能发放"):  # the rule's default: a deposit first
        g.issue_purchase_gifts(order, rule_ids=kept, actor=marketer, token=new_token())
    o.receive_payment(order, amount=10000, method="cash", actor=marketer, token=new_token())
    issued = g.issue_purchase_gifts(order, rule_ids=kept, actor=marketer, token=new_token())
    assert [(i.quantity, i.marketer_id) for i in issued] == [(4, marketer.id)]
    assert g.proposal_for(order)[0][0].condition == "spend"  # still on offer
    order_taking.return_goods(order, order.lines[0], quantity=7, reason="不要了", approver=manager,
                              actor=manager, token=new_token())
    assert g.purchase_gifts_of(order) == []  # 1 box left earns no gift: it came back
    assert cup_stock(warehouse, cup) == 30
    assert all(problems == [] for problems in check_ledgers().values())


def test_package_contents_count_only_when_the_rule_says_so(db, venue):
    """Six 大单 (each 2 boxes of 灵芝 and a bottle of oil) and "buy 2 boxes, get a cup, again for
    every 2": by default the boxes inside the packages do not count; a rule that says they do
    proposes 6 cups; and a rule that waits for full payment waits for it."""
    event, warehouse, manager, staff, marketer, cup = venue
    lz = make_stocked_product(warehouse, 100, name="灵芝孢子粉", sale_price=19800)
    oil = make_stocked_product(warehouse, 100, name="深海鱼油", sale_price=9800)
    big = o.save_package(None, name="大单", price=40000, items=[(lz, 2), (oil, 1)],
                         actor=manager)
    rule = g.save_rule(None, event=None, kind="purchase", product=cup, quantity=1,
                       actor=manager, condition="product", condition_product=lz, min_quantity=2,
                       repeats=True)
    order = make_order(make_customer(marketer), warehouse=warehouse, actor=marketer,
                       lines=o.package_lines(big, 6))
    assert g.proposal_for(order) == []
    g.save_rule(rule, event=None, kind="purchase", product=cup, quantity=1, actor=manager,
                condition="product", condition_product=lz, min_quantity=2, repeats=True,
                counts_packages=True, waits_for="paid")
    assert [(r.id, n) for r, n in g.proposal_for(order)] == [(rule.id, 6)]
    o.receive_payment(order, amount=10000, method="cash", actor=marketer, token=new_token())
    with pytest.raises(Conflict, match="付清后才能发放"):
        g.issue_purchase_gifts(order, rule_ids=[rule.id], actor=marketer, token=new_token())
    o.receive_payment(order, amount=order.balance_due, method="cash", actor=marketer,
                      token=new_token())
    [issue] = g.issue_purchase_gifts(order, rule_ids=[rule.id], actor=marketer,
                                     token=new_token())
    assert issue.quantity == 6


def test_a_gift_outside_the_rules_needs_a_manager(db, venue):
    event, warehouse, manager, staff, marketer, cup = venue
    customer = make_customer(marketer)
    order = make_order(customer, warehouse=warehouse, actor=marketer,
                       lines=[{"product": make_stocked_product(warehouse, 5), "quantity": 1}])
    with pytest.raises(PermissionDenied):
        g.issue_manual_gift(order, product=cup, quantity=1, actor=marketer, token=new_token(),
                            note="老顾客")
    gift = g.issue_manual_gift(order, product=cup, quantity=2, actor=manager,
                               token=new_token(), note="老顾客")
    assert gift.approved_by_id == manager.id and gift.kind == "manual"


def test_costs_per_event_marketer_arrival_and_deal(db, venue):
    event, warehouse, manager, staff, marketer, cup = venue
    attendance_rule(event, cup, manager)
    invitations = [ev.invite(event, make_customer(marketer, name=name), actor=marketer)
                   for name in ("甲", "乙")]
    for invitation in invitations:
        ci.check_in(event, invitation, actor=staff, token=new_token())
        g.issue_attendance_gifts(event, invitation.customer, actor=staff, token=new_token())
    assert g.event_gift_cost(event) == 3000
    assert g.marketer_gift_cost(marketer.id) == 3000
    assert g.cost_per_arrival(event) == 1500
    assert g.cost_per_deal(event) is None
    assert [tuple(row) for row in g.summary_by_product(event)] == [("养生杯", "盒", 2, 3000)]


carts = st.fixed_dictionaries({
    "lz": st.integers(0, 12), "oil": st.integers(0, 12),
    "big": st.integers(0, 3), "spend": st.integers(0, 400000)})


@settings(max_examples=200, deadline=None)
@given(cart=carts)
def test_the_proposal_is_exactly_the_earned_rules_best_per_group(cart):
    """Pure: rules as plain objects; the proposal matches a by-hand reading of the rules."""
    class P:
        def __init__(self, cost):
            self.standard_cost = cost

    class R:
        def __init__(self, id_, condition, quantity, cost, **kw):
            self.id, self.kind, self.is_active = id_, "purchase", True
            self.condition, self.quantity, self.product = condition, quantity, P(cost)
            self.condition_product_id = kw.get("product")
            self.condition_package_id = kw.get("package")
            self.min_quantity, self.min_spend = kw.get("n", 0), kw.get("spend", 0)
            self.repeats, self.exclusive_group = kw.get("repeats", False), kw.get("group", "")
            self.counts_packages = True

    rules = [R(1, "product", 1, 1500, product=1, n=2, repeats=True),
             R(2, "product", 2, 800, product=2, n=3),
             R(3, "package", 1, 5000, package=7, repeats=True),
             R(4, "spend", 1, 1500, spend=100000, group="满额"),
             R(5, "spend", 2, 1500, spend=200000, group="满额"),
             R(6, "spend", 1, 9000, spend=300000, group="满额")]
    basket = {"products": {1: cart["lz"], 2: cart["oil"]}, "packages": {7: cart["big"]},
              "spend": cart["spend"]}
    basket["loose"] = basket["products"]
    expected = []
    if cart["lz"] >= 2:
        expected.append((1, cart["lz"] // 2))
    if cart["oil"] >= 3:
        expected.append((2, 2))
    if cart["big"]:
        expected.append((3, cart["big"]))
    group = [(rid, q, c) for rid, q, c, limit in ((4, 1, 1500, 100000), (5, 2, 1500, 200000),
                                                  (6, 1, 9000, 300000))
             if cart["spend"] >= limit]
    if group:
        best = max(group, key=lambda t: (t[1] * t[2], -t[0]))
        expected.append((best[0], best[1]))
    assert [(rule.id, q) for rule, q in g.propose(rules, basket)] == sorted(expected)


def test_two_tablets_at_once_give_one_attendance_gift(app, committed_db):
    manager = make_user(["manager"])
    staff = [make_user(["event_staff"]) for _ in range(2)]
    marketer = make_user(["marketer"])
    warehouse = make_warehouse(kind="venue")
    event = make_event(manager)
    g.set_event_warehouse(event, warehouse, actor=manager)
    cup = make_stocked_product(warehouse, 10, is_gift=True, for_sale=False)
    attendance_rule(event, cup, manager)
    customer = arrive(event, marketer, staff[0])
    _db.session.commit()
    ids = (event.id, customer.id, [s.id for s in staff])
    results = []

    def tablet(staff_id):
        begin_write()
        issue = g.issue_attendance_gifts(
            _db.session.get(ev.Event, ids[0]), _db.session.get(Customer, ids[1]),
            actor=_db.session.get(User, staff_id), token=new_token())
        _db.session.commit()
        results.append(issue.id)

    errors = race(tablet, ids[2], app=app, timeout=30)
    assert errors == [] and len(results) == 2 and results[0] == results[1]
    _db.session.rollback()
    assert _db.session.scalar(select(func.count(g.GiftIssue.id))) == 1
    assert check_ledgers()["gifts"] == [] and check_ledgers()["stock"] == []


def test_the_scanner_loads_the_door_gift_with_the_event_and_the_card(venue):
    event, warehouse, manager, staff, marketer, cup = venue
    ev.set_event_staff(event, [staff], actor=manager)
    invitation = ev.invite(event, make_customer(marketer, name="张三"), actor=marketer)
    assert door.door_event_and_card(event.id, staff, invitation.token) == (event, invitation, None)
    g.save_rule(None, event=event, kind="purchase", product=cup, quantity=1, actor=manager,
                condition="spend", min_spend=100000)
    retired = attendance_rule(event, cup, manager, is_active=False)
    first, second = attendance_rule(event, cup, manager), attendance_rule(event, cup, manager)
    loaded = door.door_event_and_card(event.id, staff, invitation.token)
    assert loaded == (event, invitation, first) and retired.id < first.id < second.id
    assert g.door_state(event, None, loaded[2]) == g.door_state(event, None)
    assert door.door_event_and_card(event.id, staff, "不是卡号")[1:] == (None, first)
    other = make_event(manager, title="别的场次")
    with pytest.raises(NotFound):  # the staff does not work that door
        door.door_event_and_card(other.id, staff, invitation.token)


def test_walk_ins_get_an_every_arrival_gift_and_companions_one_each(db, venue):
    event, warehouse, manager, staff, marketer, cup = venue
    invited_only = attendance_rule(event, cup, manager, attendance_for="invited")
    every = attendance_rule(event, cup, manager, attendance_for="arrival", companion_quantity=2)
    guest = arrive(event, marketer, staff, name="李四", companions=1)
    door.register_walk_in(event, name="临时来宾", phone="13712345678", actor=staff,
                          token=new_token(), owner=marketer, companions=2)
    walk_in = _db.session.scalar(select(Customer).where(Customer.name == "临时来宾"))
    first = g.issue_attendance_gifts(event, walk_in, actor=staff, token=new_token())
    assert (first.kind, first.rule_id, first.quantity) == ("attendance", every.id, 1)
    companions = _db.session.scalars(select(g.GiftIssue).where(
        g.GiftIssue.customer_id == walk_in.id, g.GiftIssue.kind == "companion")).all()
    assert [(i.rule_id, i.quantity) for i in companions] == [(every.id, 4)]  # 2 each × 2
    issue = g.issue_attendance_gifts(event, guest, actor=staff, token=new_token())
    assert issue.rule_id == invited_only.id  # an invited guest: the first rule that fits
    assert cup_stock(warehouse, cup) == 30 - 1 - 4 - 1
    assert check_ledgers()["gifts"] == [] and check_ledgers()["stock"] == []


def test_the_gift_desk_lists_what_is_owed_and_a_second_screen_is_told(db, venue):
    event, warehouse, manager, staff, marketer, cup = venue
    rule = attendance_rule(event, cup, manager, attendance_for="invited", companion_quantity=1)
    zhang = arrive(event, marketer, staff, name="张三", companions=2)
    door.register_walk_in(event, name="临时来宾", phone="13712345678", actor=staff,
                          token=new_token(), owner=marketer)
    rows = {row.customer.name: row for row in g.desk_rows(event)}
    assert [(kind, n) for kind, _product, n in rows["张三"].owed] == [
        ("attendance", 1), ("companion", 2)] and rows["张三"].to_give
    assert rows["临时来宾"].rule is None and not rows["临时来宾"].to_give  # invited only
    assert g.desk_counts(event) == {"to_give": 1, "given": 0}
    assert [row.customer.name for row in g.desk_rows(event, "zs")] == ["张三"]
    token = new_token()
    first = g.give_at_desk(event, zhang, actor=staff, token=token)
    assert g.give_at_desk(event, zhang, actor=staff, token=token) is first  # the same form
    with pytest.raises(g.AttendanceGiftGiven, match="张三 已于 .* 由 赵敏 发放过到场礼"):
        g.give_at_desk(event, zhang, actor=manager, token=new_token())  # another screen
    (row,) = g.desk_rows(event, customer_id=zhang.id)
    assert not row.to_give and [(i.kind, i.quantity, i.rule_id) for i in row.had] == [
        ("attendance", 1, rule.id), ("companion", 2, rule.id)]
    assert g.desk_counts(event) == {"to_give": 0, "given": 1}
    assert g.desk_guest(event, zhang.id) == zhang
    for unknown in (make_customer(marketer, name="路人").id, 0, 2**40, "1"):
        with pytest.raises(NotFound, match="不在本场名单中"):
            g.desk_guest(event, unknown)

"""Points: earned on money, taken back on refunds (a debt, never below zero), bonuses once,
adjustments, redemptions and their reversal, FIFO expiry once, referrals; under random
sequences and under two concurrent redemptions."""
import threading
from datetime import date, timedelta

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from sqlalchemy import func, select

from extensions import db as _db
from models import door, events as ev, inventory as inv, orders as o, points as pt
from models import redemptions, referrals
from models.accounts import User
from models.base import Conflict, InvalidInput, PermissionDenied, begin_write, new_token, utcnow
from models.customers import Customer
from models.ledgers import check_ledgers
from models.settings import update_settings
from tests.factories import (company_today, make_customer, make_event, make_order,
                             make_stocked_product, make_user, make_warehouse)
from tests.races import race


pytestmark = pytest.mark.shop(price=10000)


def pay(order, amount, actor):
    return o.receive_payment(order, amount=amount, method="cash", actor=actor,
                             token=new_token())


def clean():
    return all(problems == [] for problems in check_ledgers().values())


def test_money_received_earns_points_weighted_by_multipliers(db, shop):
    warehouse, marketer, finance, manager, customer, product, cup = (
        shop.warehouse, shop.marketer, shop.finance, shop.manager, shop.customer, shop.product,
        shop.cup)
    free = make_stocked_product(warehouse, 5, name="体验装", sale_price=10000,
                                points_multiplier=0)
    order = make_order(customer, warehouse=warehouse, actor=marketer,
                       lines=[{"product": product, "quantity": 1},
                              {"product": free, "quantity": 1}])  # ¥200, half earns nothing
    pay(order, 5000, finance)  # a deposit earns on the deposit: ¥50 × ½
    assert pt.balance_of(customer.id) == 25
    pay(order, 15000, finance)
    assert pt.balance_of(customer.id) == 100
    assert clean()


def test_a_refund_takes_points_back_and_a_shortfall_is_a_debt(db, shop):
    warehouse, marketer, finance, manager, customer, product, cup = (
        shop.warehouse, shop.marketer, shop.finance, shop.manager, shop.customer, shop.product,
        shop.cup)
    order = make_order(customer, warehouse=warehouse, actor=marketer,
                       lines=[{"product": product, "quantity": 10}])  # ¥1,000
    pay(order, 100000, finance)
    assert pt.balance_of(customer.id) == 1000
    redemptions.redeem(customer, [(cup, 3)], warehouse=warehouse, actor=manager, token=new_token())
    assert pt.balance_of(customer.id) == 100
    o.refund(order, amount=50000, method="cash", reason="退货", actor=finance, approver=manager,
             token=new_token(), goodwill=True)
    account = _db.session.get(pt.PointsAccount, customer.id)
    assert (account.balance, account.debt) == (0, 400)  # never negative: 400 owed
    other = make_order(customer, warehouse=warehouse, actor=marketer,
                       lines=[{"product": product, "quantity": 5}])
    pay(other, 50000, finance)  # 500 earned: the debt first
    assert (account.balance, account.debt) == (100, 0)
    assert clean()


def test_redemption_checks_the_balance_and_stock_and_is_reversed_by_a_manager(db, shop):
    warehouse, marketer, finance, manager, customer, product, cup = (
        shop.warehouse, shop.marketer, shop.finance, shop.manager, shop.customer, shop.product,
        shop.cup)
    pt.adjust(customer, 700, reason="老顾客回馈", actor=manager, token=new_token())
    with pytest.raises(Conflict, match="只有 700 积分"):
        redemptions.redeem(customer, [(cup, 3)], warehouse=warehouse, actor=manager,
                           token=new_token())
    with pytest.raises(InvalidInput, match="不能用积分兑换"):
        redemptions.redeem(customer, [(product, 1)], warehouse=warehouse, actor=manager,
                           token=new_token())
    token = new_token()
    redemption = redemptions.redeem(customer, [(cup, 2)], warehouse=warehouse, actor=manager,
                                    token=token)
    assert redemptions.redeem(customer, [(cup, 2)], warehouse=warehouse, actor=manager,
                              token=token) is redemption
    assert (redemption.points, redemption.cost, pt.balance_of(customer.id)) == (600, 3000, 100)
    assert inv.quantity_in(inv.location_of(warehouse), cup) == 8
    with pytest.raises(PermissionDenied):
        redemptions.reverse_redemption(redemption, reason="拿错", actor=marketer)
    redemptions.reverse_redemption(redemption, reason="拿错", actor=manager)
    assert pt.balance_of(customer.id) == 700
    assert inv.quantity_in(inv.location_of(warehouse), cup) == 10
    with pytest.raises(Conflict, match="已经撤销"):
        redemptions.reverse_redemption(redemption, reason="再来", actor=manager)
    assert clean()


def test_adjustments_need_a_manager_a_reason_and_stay_above_zero(db, shop):
    manager, customer, product, cup = shop.manager, shop.customer, shop.product, shop.cup
    with pytest.raises(PermissionDenied):
        pt.adjust(customer, 10, reason="x", actor=make_user(["marketer"]), token=new_token())
    with pytest.raises(InvalidInput, match="原因"):
        pt.adjust(customer, 10, reason=" ", actor=manager, token=new_token())
    with pytest.raises(Conflict, match="不能小于零"):
        pt.adjust(customer, -1, reason="扣", actor=manager, token=new_token())


def test_expiry_takes_only_what_is_left_oldest_first_and_runs_once(db, shop):
    manager, customer, product, cup = shop.manager, shop.customer, shop.product, shop.cup
    now = utcnow()
    old = pt.adjust(customer, 500, reason="去年", actor=manager, token=new_token(),
                    now=now - timedelta(days=800))
    new = pt.adjust(customer, 300, reason="今年", actor=manager, token=new_token())
    assert old.expires_on < company_today() < new.expires_on
    redemptions.redeem(customer, [(cup, 1)], warehouse=shop.warehouse, actor=manager,
                       token=new_token())
    # 300 spent from the oldest lot: 200 of it is left to expire, the new lot is untouched.
    assert pt.run_expiry(company_today()) == 1
    assert pt.run_expiry(company_today()) == 0
    assert pt.balance_of(customer.id) == 300
    assert [left for _lot, left in pt.lots(customer.id)] == [300]
    soon = pt.expiring(customer.id, new.expires_on - timedelta(days=10))
    assert soon == [(new.expires_on, 300)]
    assert clean()


def test_attendance_and_referral_bonuses_once(db, shop):
    warehouse, marketer, finance, manager, customer, product, cup = (
        shop.warehouse, shop.marketer, shop.finance, shop.manager, shop.customer, shop.product,
        shop.cup)
    admin = make_user(["admin"])
    update_settings({"points.attendance_bonus": 50, "points.referral_trigger": "attend",
                     "points.referral_bonus": 200}, actor=admin)
    friend = make_customer(marketer, name="李阿姨", referrer_id=customer.id)
    event = make_event(manager)
    staff = make_user(["event_staff"])
    door.check_in(event, ev.invite(event, friend, actor=marketer), actor=staff,
                  token=new_token())
    assert pt.balance_of(friend.id) == 50
    assert pt.balance_of(customer.id) == 200
    assert referrals.reward_referral(friend, trigger="attend") is None  # once
    [(person, attended, bought)] = referrals.referrals_of(customer)
    assert (person.id, attended, bought) == (friend.id, True, False)


steps = st.lists(st.one_of(
    st.tuples(st.just("pay"), st.integers(1, 50000)),
    st.tuples(st.just("refund"), st.integers(1, 50000)),
    st.tuples(st.just("redeem"), st.integers(1, 3)),
    st.tuples(st.just("expire"), st.integers(0, 800)),
    st.tuples(st.just("reverse"), st.integers(0, 10)),
), min_size=1, max_size=15)


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sequence=steps)
def test_random_points_keep_every_rule(db, sequence):
    warehouse = make_warehouse()
    finance, manager = make_user(["finance"]), make_user(["manager"])
    customer = make_customer()
    product = make_stocked_product(warehouse, 20, sale_price=30000)
    cup = make_stocked_product(warehouse, 30, is_gift=True, for_sale=False, redeemable=True,
                               points_price=100)
    order = make_order(customer, warehouse=warehouse, actor=customer.owner,
                       lines=[{"product": product, "quantity": 5}])
    redeemed = []
    for step in sequence:
        try:
            if step[0] == "pay":
                pay(order, step[1], finance)
            elif step[0] == "refund":
                o.refund(order, amount=step[1], method="cash", reason="退", actor=finance,
                         approver=manager, token=new_token(), goodwill=True)
            elif step[0] == "redeem":
                redeemed.append(redemptions.redeem(customer, [(cup, step[1])],
                                                   warehouse=warehouse, actor=manager,
                                                   token=new_token()))
            elif step[0] == "expire":
                pt.run_expiry(company_today() + timedelta(days=step[1]))
            elif redeemed:
                redemptions.reverse_redemption(redeemed[step[1] % len(redeemed)], reason="错",
                                               actor=manager)
        except (Conflict, InvalidInput):
            pass
        balance = pt.balance_of(customer.id)
        assert balance >= 0
        assert balance == sum(left for _lot, left in pt.lots(customer.id))
    assert clean()


def test_two_redemptions_at_once_beyond_the_balance_leave_one(app, committed_db):
    warehouse = make_warehouse()
    manager = make_user(["manager"])
    clerks = [make_user(["warehouse"]) for _ in range(2)]
    customer = make_customer()
    cup = make_stocked_product(warehouse, 10, is_gift=True, for_sale=False, redeemable=True,
                               points_price=300)
    pt.adjust(customer, 500, reason="开户", actor=manager, token=new_token())
    _db.session.commit()
    ids = (customer.id, cup.id, warehouse.id, [c.id for c in clerks])
    done, refused = [], []

    def tablet(clerk_id):
        begin_write()
        try:
            redemptions.redeem(_db.session.get(Customer, ids[0]),
                               [(_db.session.get(inv.Product, ids[1]), 1)],
                               warehouse=_db.session.get(inv.Warehouse, ids[2]),
                               actor=_db.session.get(User, clerk_id), token=new_token())
        except Conflict:
            refused.append(clerk_id)
            return
        _db.session.commit()
        done.append(clerk_id)

    errors = race(tablet, ids[3], app=app, timeout=30)
    assert errors == [] and (len(done), len(refused)) == (1, 1)
    _db.session.rollback()
    assert _db.session.scalar(select(func.count(pt.Redemption.id))) == 1
    assert pt.balance_of(ids[0]) == 200
    assert clean()


def test_a_catch_up_run_for_a_past_day_then_later_activity_expires_once(db, shop):
    """A missed day is caught up later with `now` at 23:59 of that day, while the customer has
    already spent since: the expiry counts that spending, is dated after it (so `lots` replays
    it as it was written), and neither later activity nor later runs expire the lot again or
    leave any of it unspent."""
    from datetime import datetime, time

    from formatting import company_zone
    warehouse, marketer, finance, manager, customer, product, cup = (
        shop.warehouse, shop.marketer, shop.finance, shop.manager, shop.customer, shop.product,
        shop.cup)
    real_now = utcnow()
    old = pt.adjust(customer, 500, reason="去年", actor=manager, token=new_token(),
                    now=real_now - timedelta(days=800))
    missed = old.expires_on + timedelta(days=1)  # the first day the old lot is due
    assert missed < company_today()
    moment = datetime.combine(missed, time(23, 59), tzinfo=company_zone())
    new = pt.adjust(customer, 300, reason="今年", actor=manager, token=new_token(),
                    now=real_now - timedelta(minutes=5))
    spent = redemptions.redeem(customer, [(cup, 1)], warehouse=warehouse, actor=manager,
                               token=new_token(),
                               now=real_now - timedelta(minutes=1))  # 300 of the old
    assert pt.run_expiry(missed, now=moment) == 1  # the catch-up
    [entry] = _db.session.scalars(select(pt.PointsEntry).where(
        pt.PointsEntry.kind == "expired")).all()
    assert (entry.customer_id, entry.lot_id, entry.points, entry.actor_id) == \
        (customer.id, old.id, -200, None)
    assert str(old.expires_on) in entry.reason
    assert entry.at >= spent.at  # counted after everything it was worked out from
    assert pt.balance_of(customer.id) == 300
    assert [(lot.id, left) for lot, left in pt.lots(customer.id)] == [(new.id, 300)]
    assert pt.run_expiry(missed, now=moment) == 0
    # Later: more spending, a new lot, and the nightly runs up to today.
    redemptions.redeem(customer, [(cup, 1)], warehouse=warehouse, actor=manager, token=new_token())
    pt.adjust(customer, 50, reason="补", actor=manager, token=new_token())
    for day in (missed + timedelta(days=1), company_today()):
        assert pt.run_expiry(day) == 0
    assert _db.session.scalar(select(func.count()).where(pt.PointsEntry.kind == "expired",
                                                         pt.PointsEntry.lot_id == old.id)) == 1
    lots = pt.lots(customer.id)
    assert not [lot for lot, _left in lots if lot.expires_on < company_today()]
    assert pt.balance_of(customer.id) == sum(left for _lot, left in lots) == 50
    assert [item.kind for item in pt._points_items(customer, 10)].count("points.expired") == 1
    assert clean()


def test_expiry_over_many_customers_in_chunks_matches_lots_and_keeps_the_books(db, shop):
    """Chunked, bulk expiry writes exactly what `lots` says is left of each past-date lot,
    skips lots already expired or spent, refreshes accounts already loaded, and runs once."""
    import random
    warehouse, marketer, finance, manager, customer, product, cup = (
        shop.warehouse, shop.marketer, shop.finance, shop.manager, shop.customer, shop.product,
        shop.cup)
    rng = random.Random(7)
    now = utcnow()
    people = [customer] + [make_customer(marketer, name=f"顾客{n}") for n in range(8)]
    for person in people:
        for _step in range(rng.randint(0, 6)):
            roll = rng.random()
            when = now - timedelta(days=rng.randint(0, 900), minutes=rng.randint(0, 999))
            if roll < 0.6:
                pt.adjust(person, rng.randint(1, 9) * 100, reason="送", actor=manager,
                          token=new_token(), now=when)
            elif pt.balance_of(person.id) >= 300:
                redemptions.redeem(person, [(cup, 1)], warehouse=warehouse, actor=manager,
                                   token=new_token())
    # Lots expired by an earlier run (one of them for sure): never again.
    pt.adjust(customer, 100, reason="前年", actor=manager, token=new_token(),
              now=now - timedelta(days=1200))
    assert pt.run_expiry(company_today() - timedelta(days=400)) >= 1
    today = company_today()
    expected = sorted((person.id, lot.id, left) for person in people
                      for lot, left in pt.lots(person.id)
                      if lot.expires_on < today)
    already = set(_db.session.scalars(select(pt.PointsEntry.lot_id).where(
        pt.PointsEntry.kind == "expired")))
    assert not {lot_id for _c, lot_id, _left in expected} & already
    loaded = _db.session.get(pt.PointsAccount, customer.id)
    before = loaded.balance
    assert pt.run_expiry(today, chunk=2) == len(expected)
    found = sorted(_db.session.execute(select(
        pt.PointsEntry.customer_id, pt.PointsEntry.lot_id, -pt.PointsEntry.points).where(
        pt.PointsEntry.kind == "expired", pt.PointsEntry.lot_id.not_in(already or [0]))).all())
    assert [tuple(row) for row in found] == expected
    assert loaded.balance == before - sum(left for c, _l, left in expected if c == customer.id)
    assert pt.run_expiry(today, chunk=2) == 0
    assert pt.run_expiry(today) == 0
    for person in people:
        lots = pt.lots(person.id)
        assert not [lot for lot, _left in lots if lot.expires_on < today]
        assert pt.balance_of(person.id) == sum(left for _lot, left in lots) >= 0
    assert clean()


def test_a_redemption_while_the_expiry_runs_is_counted_before_anything_expires(
        app, committed_db):
    """The counter holds the account (a redemption under way) when the nightly run reaches the
    customer: the run waits for it and counts what the redemption spent — it does not expire
    points already spent, fail below zero, or take them from a newer lot."""
    import time as clock
    warehouse = make_warehouse()
    manager, clerk = make_user(["manager"]), make_user(["warehouse"])
    customer = make_customer()
    cup = make_stocked_product(warehouse, 10, is_gift=True, for_sale=False, redeemable=True,
                               points_price=300)
    old = pt.adjust(customer, 500, reason="去年", actor=manager, token=new_token(),
                    now=utcnow() - timedelta(days=800))
    new = pt.adjust(customer, 100, reason="今年", actor=manager, token=new_token())
    _db.session.commit()
    ids = (customer.id, cup.id, warehouse.id, clerk.id)
    locked, results = threading.Event(), {}

    def counter():
        try:
            begin_write()
            pt.lock_account(ids[0])
            locked.set()
            clock.sleep(1)  # the run starts meanwhile and waits for the account
            redemptions.redeem(_db.session.get(Customer, ids[0]),
                               [(_db.session.get(inv.Product, ids[1]), 1)],
                               warehouse=_db.session.get(inv.Warehouse, ids[2]),
                               actor=_db.session.get(User, ids[3]), token=new_token())
            _db.session.commit()
        finally:
            locked.set()

    def nightly():
        locked.wait(30)
        begin_write()
        results["written"] = pt.run_expiry(company_today())
        _db.session.commit()

    errors = race(lambda run: run(), [counter, nightly], app=app)
    assert errors == [] and results == {"written": 1}
    _db.session.rollback()
    [points] = _db.session.scalars(select(pt.PointsEntry.points).where(
        pt.PointsEntry.kind == "expired", pt.PointsEntry.lot_id == old.id)).all()
    assert points == -200  # 300 of the old lot was spent at the counter
    assert pt.balance_of(ids[0]) == 100
    assert [(lot.id, left) for lot, left in pt.lots(ids[0])] == [(new.id, 100)]
    assert clean()


def test_the_liability_values_points_in_fen(db):
    from models import points as pts
    from models.settings import update_settings
    customer = make_customer(make_user(["marketer"]), name="积分多")
    pts.bonus(customer, 400, key="test:liability", reason="测试")
    assert pts.liability()["points"] == 400 and pts.liability()["value"] == 400  # 1 fen each
    update_settings({"points.value_fen": 5}, actor=make_user(["admin"]))
    assert pts.liability()["value"] == 2000  # ¥20.00

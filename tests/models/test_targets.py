"""Targets (#27 §1): who sets whose, values checked, copy last period, spread evenly; and the
progress against them worked out by hand (actual, done, pace, rank, a department's sum)."""
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from extensions import db as _db
from formatting import local_day
from models import customers as c, orders as o, targets as tg
from models.audit import AuditEntry
from models.base import InvalidInput, NotFound, PermissionDenied, new_token, utcnow
from reports import targets as progress
from tests.factories import (make_customer, make_department, make_order,
                             make_stocked_product, make_user, make_warehouse)

DECEMBER = date(2026, 12, 1)


@pytest.fixture
def team(db):
    one, two = make_department("一部"), make_department("二部")
    head = make_user(["dept_head"], display_name="周主任", department=one)
    a = make_user(["marketer"], display_name="刘芳", department=one)
    b = make_user(["marketer"], display_name="赵敏", department=one)
    other = make_user(["marketer"], display_name="王强", department=two)
    manager = make_user(["manager"], display_name="李总")
    return one, two, head, a, b, other, manager


def test_a_head_sets_their_marketers_targets_and_a_manager_the_departments(db, team):
    one, two, head, a, b, other, manager = team
    assert tg.set_targets("marketer", a, "month", DECEMBER,
                          {"collections": 5_000_000, "invitations": 30}, actor=head) == {
        "collections": (None, 5_000_000), "invitations": (None, 30)}
    with pytest.raises(PermissionDenied):
        tg.set_targets("marketer", other, "month", DECEMBER, {"invitations": 1}, actor=head)
    with pytest.raises(PermissionDenied):
        tg.set_targets("department", one, "month", DECEMBER, {"invitations": 1}, actor=head)
    with pytest.raises(PermissionDenied):
        tg.set_targets("marketer", a, "month", DECEMBER, {"invitations": 99}, actor=a)
    tg.set_targets("department", one, "month", DECEMBER, {"invitations": 100}, actor=manager)
    # changed, then cleared: one row less, the audit says before and after
    tg.set_targets("marketer", a, "month", DECEMBER, {"invitations": 25, "collections": None},
                   actor=head)
    assert tg.targets_of("marketer", [a.id], "month", DECEMBER) == {a.id: {"invitations": 25}}
    entry = _db.session.scalars(select(AuditEntry).where(AuditEntry.action == "targets.set")
                                .order_by(AuditEntry.id.desc())).first()
    assert entry.details["before"] == {"invitations": 30, "collections": 5_000_000}
    assert entry.details["after"] == {"invitations": 25, "collections": None}


@pytest.mark.parametrize("values, message", [
    ({"invitations": -1}, "不能小于 0"),
    ({"sales": tg.MAX_VALUE + 1}, "过大"),
    ({"bonus": 1}, "未知"),
    ({"arrivals": 2.5}, "不能小于 0"),
])
def test_bad_targets_are_refused_and_nothing_is_written(db, team, values, message):
    one, two, head, a, b, other, manager = team
    with pytest.raises(InvalidInput) as refused:
        tg.set_targets("marketer", a, "month", DECEMBER, values, actor=manager)
    assert message in str(refused.value.message)
    assert _db.session.scalar(select(func.count()).select_from(tg.Target)) == 0


def test_a_period_begins_on_the_first_or_a_monday(db, team):
    one, two, head, a, b, other, manager = team
    with pytest.raises(InvalidInput):
        tg.set_targets("marketer", a, "month", date(2026, 12, 2), {"new": 1}, actor=manager)
    assert tg.period_start("week", date(2026, 12, 6)) == date(2026, 11, 30)  # a Sunday
    assert tg.period_end("month", date(2026, 2, 1)) == date(2026, 2, 28)
    assert tg.elapsed("month", DECEMBER, date(2026, 12, 6)) == pytest.approx(6 / 31)
    assert tg.elapsed("week", date(2026, 11, 30), date(2026, 12, 20)) == 1.0


def test_copy_the_month_before_fills_only_what_is_not_set(db, team):
    one, two, head, a, b, other, manager = team
    november = date(2026, 11, 1)
    tg.set_targets("marketer", a, "month", november, {"invitations": 30, "new": 5}, actor=head)
    tg.set_targets("marketer", b, "month", november, {"invitations": 20}, actor=head)
    tg.set_targets("marketer", a, "month", DECEMBER, {"invitations": 40}, actor=head)
    assert tg.copy_previous(one, "month", DECEMBER, actor=head) == 2
    assert tg.targets_of("marketer", [a.id, b.id], "month", DECEMBER) == {
        a.id: {"invitations": 40, "new": 5}, b.id: {"invitations": 20}}
    with pytest.raises(InvalidInput):  # nothing left to copy
        tg.copy_previous(one, "month", DECEMBER, actor=head)


def test_spread_shares_the_department_target_with_the_remainder_to_the_first(db, team):
    one, two, head, a, b, other, manager = team
    c_ = make_user(["marketer"], display_name="陈伟", department=one)
    with pytest.raises(InvalidInput):  # no department target yet
        tg.spread(one, "month", DECEMBER, actor=head)
    tg.set_targets("department", one, "month", DECEMBER,
                   {"collections": 10_000_000_01, "invitations": 100}, actor=manager)
    shares = tg.spread(one, "month", DECEMBER, actor=head)
    people = tg.marketers_of(one.id)  # by name: the first gets the remainder
    assert {p.id for p in people} == {a.id, b.id, c_.id}
    assert shares["invitations"] == [34, 33, 33]
    assert sum(shares["collections"]) == 10_000_000_01
    got = tg.targets_of("marketer", [p.id for p in people], "month", DECEMBER)
    assert [got[p.id]["invitations"] for p in people] == [34, 33, 33]
    with pytest.raises(PermissionDenied):
        tg.spread(two, "month", DECEMBER, actor=head)


def test_subjects_out_of_reach_are_not_found(db, team):
    one, two, head, a, b, other, manager = team
    with pytest.raises(NotFound):
        tg.subject_or_404("marketer", other.id, head)
    with pytest.raises(NotFound):
        tg.subject_or_404("marketer", b.id, a)
    assert tg.subject_or_404("marketer", a.id, a) is a
    with pytest.raises(NotFound):
        tg.subject_or_404("team", a.id, manager)
    with pytest.raises(NotFound):
        tg.subject_or_404("marketer", 2**40, manager)


def test_progress_against_the_hand_count(db, team):
    """This month: 刘芳 logged 3 contacts and collected ¥600 of ¥1,000 target (60 %); 赵敏
    collected ¥500 of ¥2,000 (25 %) and made no contact; rank by collections done: 刘芳 1,
    赵敏 2. 一部's collections = ¥1,100 against its ¥5,000 (22 %)."""
    one, two, head, a, b, other, manager = team
    today = local_day(utcnow())
    month = tg.period_start("month", today)
    warehouse = make_warehouse("总仓")
    product = make_stocked_product(warehouse, 100, name="灵芝孢子粉", sale_price=100000)
    finance = make_user(["finance"])
    mine = make_customer(a, name="顾客甲")
    for n in range(3):
        c.record_contact(mine, kind="call", content=f"第{n + 1}次", actor=a)
    order = make_order(mine, warehouse=warehouse, actor=a, channel="store",
                       lines=[{"product": product, "quantity": 1}])
    o.receive_payment(order, amount=60000, method="cash", actor=finance, token=new_token())
    theirs = make_order(make_customer(b, name="顾客乙"), warehouse=warehouse, actor=b,
                        channel="store", lines=[{"product": product, "quantity": 1}])
    o.receive_payment(theirs, amount=50000, method="cash", actor=finance, token=new_token())
    tg.set_targets("marketer", a, "month", month, {"collections": 100000, "contacts": 10},
                   actor=head)
    tg.set_targets("marketer", b, "month", month, {"collections": 200000}, actor=head)
    tg.set_targets("department", one, "month", month, {"collections": 500000}, actor=manager)
    data = progress.marketers_progress(manager, "month", month, tg.marketers_of(one.id), today)
    rows = {row["name"]: row for row in data["rows"]}
    assert rows["刘芳"]["figures"]["collections"] == {
        "actual": 60000, "target": 100000, "done": 60.0, "money": True}
    assert rows["刘芳"]["figures"]["contacts"]["actual"] == 3
    assert rows["刘芳"]["figures"]["contacts"]["done"] == 30.0
    assert rows["赵敏"]["figures"]["collections"]["done"] == 25.0
    assert rows["赵敏"]["figures"]["contacts"] == {"actual": 0, "target": None, "done": None,
                                                  "money": False}
    assert (rows["刘芳"]["rank"], rows["赵敏"]["rank"]) == (1, 2)
    assert data["pace"] == pytest.approx(tg.elapsed("month", month, today) * 100)
    line = progress.pace_line("month", rows["刘芳"]["figures"], 40.0)
    assert line == "本月已过 40 %，回款完成 60 %"
    departments = progress.department_progress(manager, "month", month, [one, two], today)
    first = departments["rows"][0]["figures"]["collections"]
    assert (first["actual"], first["target"], first["done"]) == (110000, 500000, 22.0)
    assert departments["rows"][1]["figures"]["collections"]["target"] is None
    # the week before this month holds none of it
    week = tg.period_start("week", month - timedelta(days=7))
    before = progress.marketers_progress(manager, "week", week, [a], today)
    assert before["rows"][0]["figures"]["collections"]["actual"] == 0

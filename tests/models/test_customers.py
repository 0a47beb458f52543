"""The customer archive: dedupe, search, scoping, birthdays, ownership, the public pool."""
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from formatting import local_day
from jobs import customers as job_customers
from models import customers as c
from models.audit import AuditEntry
from models.base import Conflict, InvalidInput, NotFound, PermissionDenied, utcnow
from models.settings import update_settings
from models.timeline import timeline_of
from tests.factories import company_today, make_customer, make_department, make_user


def names(db, user, **filters):
    return [x.name for x in db.session.scalars(c.find_customers(user, c.CustomerFilter(
        **filters)))]


def test_phone_is_normalised_and_one_mobile_is_one_customer(db):
    owner = make_user(["marketer"])
    first = make_customer(owner, name="张三", phone="138 0013 8000")
    assert first.phone == "+8613800138000" and first.phone_reversed == "00083100831"
    assert (first.name_pinyin, first.name_initials) == ("zhangsan", "zs")
    with pytest.raises(c.DuplicateCustomer) as caught:
        make_customer(owner, name="张三丰", phone="+86 13800138000")
    assert caught.value.existing is first and "张三" in caught.value.message
    other = make_customer(owner, name="李四")
    with pytest.raises(c.DuplicateCustomer):
        c.update_customer(other, c.CustomerData(name="李四", phone="13800138000"), actor=owner)


@pytest.mark.parametrize("fields, message", [
    ({"phone": "12345"}, "不是有效的手机号"),
    ({"phone": "010 6512 3456"}, "不是有效的手机号"),
    ({"name": " "}, "请输入顾客姓名"),
    ({"birthday_kind": "solar", "birthday": company_today() + timedelta(days=2)}, "不能是将来"),
    ({"birthday_kind": "lunar", "lunar_month": 13, "lunar_day": 1}, "1–12"),
    ({"birthday_kind": "lunar", "lunar_month": 2, "lunar_day": 31}, "1–30"),
    # 农历2023年正月只有29天; 2023 has a leap 2nd month but no leap 3rd.
    ({"birthday_kind": "lunar", "lunar_month": 1, "lunar_day": 30, "birth_year": 2023},
     "只有 29 天"),
    ({"birthday_kind": "lunar", "lunar_month": 3, "lunar_day": 1, "lunar_leap": True,
      "birth_year": 2023}, "没有闰 3 月"),
    ({"grade": "E"}, "A、B、C 或 D"),
])
def test_bad_customer_input_is_refused_and_nothing_written(db, fields, message):
    owner = make_user(["marketer"])
    data = c.CustomerData(**{"name": "王五", "phone": "13912345678", **fields})
    with pytest.raises(InvalidInput, match=message):
        c.create_customer(data, actor=owner)
    assert db.session.scalar(select(c.Customer)) is None


def test_lunar_birthday_with_a_real_leap_month(db):
    customer = make_customer(name="赵六", birthday_kind="lunar", lunar_month=2, lunar_day=29,
                             lunar_leap=True, birth_year=2023)
    assert (customer.lunar_month, customer.lunar_day, customer.lunar_leap) == (2, 29, True)
    assert "闰" in customer.birthday_text


def test_referrer_cannot_be_the_customer_themself(db):
    owner = make_user(["marketer"])
    customer = make_customer(owner, name="钱七")
    with pytest.raises(InvalidInput, match="不能是自己的介绍人"):
        c.update_customer(customer, c.CustomerData(name="钱七", phone=customer.phone,
                                                   referrer_id=customer.id), actor=owner)


def test_search_by_tail_full_phone_name_pinyin_and_initials(db):
    owner = make_user(["marketer"])
    make_customer(owner, name="张三", phone="13800138000")
    make_customer(owner, name="张三丰", phone="13900001234")
    make_customer(owner, name="李四", phone="13700008000")
    assert sorted(names(db, owner, q="8000")) == ["张三", "李四"]
    assert names(db, owner, q="1234") == ["张三丰"]
    assert names(db, owner, q="138 0013 8000") == ["张三"]
    assert sorted(names(db, owner, q="zs")) == ["张三", "张三丰"]
    assert names(db, owner, q="zsf") == ["张三丰"]
    assert sorted(names(db, owner, q="zhangsan")) == ["张三", "张三丰"]
    assert sorted(names(db, owner, q="ZhangSan")) == ["张三", "张三丰"]
    assert sorted(names(db, owner, q="张三")) == ["张三", "张三丰"]
    assert names(db, owner, q="ls") == ["李四"]
    assert names(db, owner, q="王") == []
    assert names(db, owner, q="%") == [] and names(db, owner, q="_") == []


def test_a_name_is_found_by_its_middle_and_a_new_name_by_its_own(db):
    """The tails a name is found by (NamePart) follow the name when it changes; the other
    rules of the box: tests/models/test_door_search.py."""
    owner = make_user(["marketer"])
    customer = make_customer(owner, name="张秀兰")
    assert names(db, owner, q="秀兰") == ["张秀兰"] and names(db, owner, q="兰") == ["张秀兰"]
    c.update_customer(customer, c.CustomerData(name="王秀兰", phone=customer.phone), actor=owner)
    db.session.expire_all()  # the same tails: rows that stay
    assert names(db, owner, q="秀兰") == ["王秀兰"]
    c.update_customer(customer, c.CustomerData(name="李秀英", phone=customer.phone), actor=owner)
    db.session.expire_all()
    assert names(db, owner, q="秀兰") == [] and names(db, owner, q="兰") == []
    assert names(db, owner, q="秀英") == ["李秀英"] and names(db, owner, q="秀") == ["李秀英"]
    assert sorted(p.part for p in customer.name_parts) == sorted(["秀英", "英"])
    c.update_customer(customer, c.CustomerData(name="李秀", phone=customer.phone), actor=owner)
    db.session.expire_all()
    assert [p.part for p in customer.name_parts] == ["秀"]
    assert names(db, owner, q="英") == [] and names(db, owner, q="秀") == ["李秀"]


def test_each_role_sees_its_customers_and_the_pool(db):
    hq = make_department("总部")
    sales1, sales2 = make_department("一部", parent=hq), make_department("二部", parent=hq)
    m1 = make_user(["marketer"], department=sales1)
    m2 = make_user(["marketer"], department=sales2)
    head1 = make_user(["dept_head"], department=sales1)
    manager = make_user(["manager"], department=hq)
    make_customer(m1, name="甲")
    make_customer(m2, name="乙")
    pooled = make_customer(m2, name="丙")
    c.release_to_pool([pooled.id], actor=manager, reason="长期不来")
    assert sorted(names(db, m1)) == ["丙", "甲"]
    assert sorted(names(db, m2)) == ["丙", "乙"]
    assert names(db, head1) == ["甲"]
    assert sorted(names(db, manager)) == ["丙", "乙", "甲"]
    staff = make_user(["event_staff"])
    assert names(db, staff) == []
    with pytest.raises(NotFound):
        c.get_customer_or_404(pooled.id + 1000, m1)


def test_filters(db):
    owner = make_user(["marketer"])
    now = utcnow()
    a = make_customer(owner, name="甲", grade="A", birthday_kind="solar",
                      birthday=date(1950, 3, 8))
    make_customer(owner, name="乙", grade="B", birthday_kind="lunar", lunar_month=3,
                  lunar_day=15)
    c.record_contact(a, kind="call", content="问候", actor=owner, now=now)
    assert names(db, owner, grade="A") == ["甲"]
    assert sorted(names(db, owner, birth_month=3)) == ["乙", "甲"]
    assert names(db, owner, idle_days=7) == ["乙"]
    assert names(db, owner, sort="name") == ["甲", "乙"]  # jia < yi


def test_reveal_phone_is_audited_and_limited(db):
    hq = make_department("总部")
    owner = make_user(["marketer"], department=hq)
    customer = make_customer(owner, phone="13800138000")
    assert c.reveal_phone(customer, actor=owner)[0] == "13800138000"
    entry = db.session.scalar(select(AuditEntry).where(
        AuditEntry.action == "customer.show_phone"))
    assert entry.target_id == customer.id and entry.actor_id == owner.id
    finance = make_user(["finance"])
    with pytest.raises(PermissionDenied):
        c.reveal_phone(customer, actor=finance)


def test_transfer_one_and_a_whole_book_with_timeline_and_audit(db):
    hq = make_department("总部")
    leaving = make_user(["marketer"], department=hq, display_name="离职员")
    heir = make_user(["marketer"], department=hq, display_name="接手员")
    manager = make_user(["manager"])
    mine = [make_customer(leaving, name=f"顾客{i}") for i in range(3)]
    assert c.transfer_book(leaving, heir, actor=manager, reason="离职交接") == 3
    assert all(x.owner is heir for x in mine)
    items = timeline_of(mine[0])
    assert items[0].kind == "ownership.transfer" and "离职员 → 接手员" in items[0].detail
    assert db.session.scalar(select(AuditEntry).where(
        AuditEntry.action == "customer.transfer", AuditEntry.target_id == mine[0].id))
    with pytest.raises(InvalidInput, match="没有顾客"):
        c.transfer_book(leaving, heir, actor=manager, reason="再来一次")


def test_dept_head_transfers_only_within_the_department(db):
    hq = make_department("总部")
    one, two = make_department("一部", parent=hq), make_department("二部", parent=hq)
    head = make_user(["dept_head"], department=one)
    m1a, m1b = make_user(["marketer"], department=one), make_user(["marketer"], department=one)
    m2 = make_user(["marketer"], department=two)
    inside, outside = make_customer(m1a), make_customer(m2)
    assert c.transfer_customers([inside.id], m1b, actor=head, reason="调整") == 1
    with pytest.raises(PermissionDenied):
        c.transfer_customers([inside.id], m2, actor=head, reason="调整")
    with pytest.raises(NotFound):
        c.transfer_customers([outside.id], m1b, actor=head, reason="调整")
    with pytest.raises(PermissionDenied):
        c.transfer_customers([inside.id], m1a, actor=m1b, reason="抢客户")


def test_claim_limits(db):
    admin = make_user(["admin"])
    update_settings({"customers.claims_per_day": 2, "customers.max_owned": 3}, actor=admin)
    manager = make_user(["manager"])
    owner = make_user(["marketer"])
    pool = [make_customer(owner, name=f"公海{i}") for i in range(4)]
    c.release_to_pool([x.id for x in pool], actor=manager, reason="整理")
    taker = make_user(["marketer"])
    c.claim_from_pool(pool[0], actor=taker)
    c.claim_from_pool(pool[1], actor=taker)
    with pytest.raises(Conflict, match="今天已领取 2 位"):
        c.claim_from_pool(pool[2], actor=taker)
    with pytest.raises(Conflict, match="已不在公海"):
        c.claim_from_pool(pool[0], actor=make_user(["marketer"]))
    # Tomorrow the daily limit is fresh, but the cap on owned customers holds.
    tomorrow = utcnow() + timedelta(days=1)
    make_customer(taker, name="自有")
    with pytest.raises(Conflict, match="最多"):
        c.claim_from_pool(pool[2], actor=taker, now=tomorrow)
    assert pool[0].owner is taker and pool[0].status == "active"


def test_assign_from_pool_and_release_rules(db):
    owner = make_user(["marketer"])
    manager = make_user(["manager"])
    customer = make_customer(owner)
    with pytest.raises(PermissionDenied):
        c.release_to_pool([customer.id], actor=owner, reason="不想要")
    c.release_to_pool([customer.id], actor=manager, reason="整理")
    assert customer.status == "pool" and customer.owner is None
    other = make_user(["marketer"])
    assert c.assign_from_pool([customer.id], other, actor=manager, reason="分配") == 1
    assert customer.owner is other
    with pytest.raises(Conflict):
        c.assign_from_pool([customer.id], owner, actor=manager)


def test_nightly_reclaim_moves_idle_customers_once(db):
    owner = make_user(["marketer"])
    now = utcnow()
    idle = make_customer(owner, name="久未跟进")
    idle.owned_since = now - timedelta(days=40)
    fresh = make_customer(owner, name="刚跟进")
    fresh.owned_since = now - timedelta(days=40)
    c.record_contact(fresh, kind="visit", content="上门", actor=owner,
                     now=now - timedelta(days=3))
    later = now + timedelta(minutes=1)
    today = local_day(later)
    assert job_customers.pool_reclaim(today, later) == 1  # never invited: 30 days
    assert idle.status == "pool" and fresh.status == "active"
    assert job_customers.pool_reclaim(today, later) == 0
    assert timeline_of(idle)[0].kind == "ownership.reclaim"


def test_contact_log_updates_last_contact_and_timeline(db):
    owner = make_user(["marketer"])
    customer = make_customer(owner)
    tomorrow = company_today() + timedelta(days=1)
    log = c.record_contact(customer, kind="call", content="询问用后感受", outcome="满意",
                           next_follow_up=tomorrow, actor=owner)
    assert customer.last_contact_at == log.at
    first = timeline_of(customer)[0]
    assert first.kind == "contact.call" and "询问用后感受" in first.detail
    with pytest.raises(InvalidInput, match="写下"):
        c.record_contact(customer, kind="call", content=" ", actor=owner)
    with pytest.raises(InvalidInput):
        c.record_contact(customer, kind="fax", content="x", actor=owner)


def test_a_claimed_customer_is_not_reclaimed_the_same_night(db):
    owner, taker = make_user(["marketer"]), make_user(["marketer"])
    manager = make_user(["manager"])
    now = utcnow()
    customer = make_customer(owner, name="老客户")
    c.release_to_pool([customer.id], actor=manager, reason="整理", now=now - timedelta(days=60))
    c.claim_from_pool(customer, actor=taker, now=now - timedelta(days=1))
    assert job_customers.pool_reclaim(local_day(now), now) == 0 and customer.owner is taker


def test_referrer_must_be_a_customer_the_user_may_see(db):
    mine, theirs = make_user(["marketer"]), make_user(["marketer"])
    secret = make_customer(theirs, name="别人的顾客")
    with pytest.raises(InvalidInput, match="介绍人不存在"):
        make_customer(mine, name="新顾客", referrer_id=secret.id)
    with pytest.raises(InvalidInput, match="介绍人不存在"):
        make_customer(mine, name="新顾客", referrer_id=10**12)


def test_dept_head_cannot_assign_another_departments_pool_customer(db):
    hq = make_department("总部")
    one, two = make_department("一部", parent=hq), make_department("二部", parent=hq)
    head = make_user(["dept_head"], department=one)
    m1, m2 = make_user(["marketer"], department=one), make_user(["marketer"], department=two)
    manager = make_user(["manager"])
    theirs = make_customer(m2, name="二部的")
    c.release_to_pool([theirs.id], actor=manager, reason="整理")
    with pytest.raises(NotFound):
        c.assign_from_pool([theirs.id], m1, actor=head)
    with pytest.raises(Conflict, match="分配"):
        c.transfer_customers([theirs.id], m1, actor=manager, reason="试试")


def test_customers_follow_a_marketer_who_changes_department(db):
    from models.accounts import update_user
    hq = make_department("总部")
    one, two = make_department("一部", parent=hq), make_department("二部", parent=hq)
    marketer = make_user(["marketer"], department=one)
    customer = make_customer(marketer)
    head_two = make_user(["dept_head"], department=two)
    update_user(marketer, display_name=marketer.display_name, phone="", department=two,
                roles=["marketer"], actor=make_user(["admin"]))
    assert customer.department_id == two.id
    assert c.get_customer_or_404(customer.id, head_two) is customer


def test_only_mainland_mobiles(db):
    with pytest.raises(InvalidInput, match="不是有效的手机号"):
        make_customer(name="外国号", phone="+1 202 555 0100")


def test_referrals_cannot_go_in_a_circle(db):
    owner = make_user(["marketer"])
    a = make_customer(owner, name="甲")
    b = make_customer(owner, name="乙", referrer_id=a.id)
    c_ = make_customer(owner, name="丙", referrer_id=b.id)
    for referrer in (b, c_):
        with pytest.raises(InvalidInput, match="不能循环"):
            c.update_customer(a, c.CustomerData(name="甲", phone=a.phone_national,
                                                referrer_id=referrer.id), actor=owner)
    assert a.referrer_id is None


def test_both_birthdays_are_kept_and_the_kind_says_which_the_care_list_follows(db):
    """An old spreadsheet may give a solar and a lunar birthday: both are kept, and the care
    list follows the one birthday_kind names (the lunar one for an import)."""
    customer = make_customer(name="两个生日", birthday_kind="lunar", birthday=date(1950, 3, 8),
                             lunar_month=3, lunar_day=8)
    assert (customer.birthday, customer.birth_year, customer.birth_month) == (
        date(1950, 3, 8), 1950, 3)
    assert (customer.lunar_month, customer.lunar_day) == (3, 8)
    assert customer.birthday_text == "农历 3月8日（公历 1950-03-08）"
    # 农历 2026 三月初八 is 24 April 2026: the care list finds the lunar birthday there …
    lunar_day, _note = c.lunar_birthday_in(2026, 3, 8, False)
    assert lunar_day == date(2026, 4, 24)
    assert [row["customer"] for row in c.care_list(lunar_day, lunar_day)] == [customer]
    # … and not on 8 March, the solar one.
    assert c.care_list(date(2026, 3, 8), date(2026, 3, 8)) == []
    # Turned to solar by hand, the same record follows the solar date and keeps the lunar one.
    c.update_customer(customer, c.CustomerData(
        name="两个生日", phone=customer.phone, birthday_kind="solar",
        birthday=date(1950, 3, 8), lunar_month=3, lunar_day=8), actor=customer.owner)
    assert customer.birthday_text == "1950-03-08（农历 3月8日）"
    assert [row["customer"] for row in c.care_list(date(2026, 3, 8), date(2026, 3, 8))] == [
        customer]


def test_an_estimated_year_is_no_check_of_a_lunar_day(db):
    """A year counted back from an age is a guess: a leap month it lacks is no reason to
    refuse the birthday (2023 has no leap 3rd month; a real 2023 is refused above)."""
    customer = make_customer(name="估算", birthday_kind="lunar", lunar_month=3, lunar_day=1,
                             lunar_leap=True, birth_year=2023, birth_year_estimated=True)
    assert customer.birth_year_estimated and customer.birthday_text == "约 2023 农历 闰3月1日"


def test_the_nightly_reclaim_moves_many_customers_in_statements_that_do_not_grow(db):
    """A first night after moving a company in reclaims tens of thousands: each customer gets
    its ownership change, audit entry and closed tasks (an after-sales reminder stays open),
    in chunks whose statements do not grow with the customers in them."""
    from sqlalchemy import event as sa_event

    from models.tasks import Task, task_row, write_tasks
    owner, other = make_user(["marketer"]), make_user(["marketer"])
    now = utcnow()

    def idle_customers(n, start):
        made = [make_customer(owner, name=f"久未跟进{start + i}") for i in range(n)]
        write_tasks([task_row(kind, (x.id, owner.id, x.department_id), local_day(now),
                              f"{kind}:{x.id}", "回访") for x in made
                     for kind in ("callback", "aftersales")], now=now)
        return made

    def reclaim(customers, chunk):
        seen = []
        saw = lambda *args: seen.append(args[2])  # noqa: E731  (the statement)
        sa_event.listen(db.engine, "before_cursor_execute", saw)
        try:
            moved = c.release_idle([x.id for x in customers], owner.id, reason="三十天未跟进",
                                   now=now, chunk=chunk)
        finally:
            sa_event.remove(db.engine, "before_cursor_execute", saw)
        return moved, len(seen)

    few, many = idle_customers(3, 0), idle_customers(30, 100)
    kept = make_customer(other, name="别人的顾客")
    moved_few, statements_few = reclaim(few, chunk=100)
    moved_many, statements_many = reclaim(many + [kept], chunk=100)
    assert sorted(moved_many) == sorted(x.id for x in many) and len(moved_few) == 3
    assert statements_many == statements_few, "statements grow with the customers reclaimed"
    assert kept.status == "active" and kept.owner is other
    for customer in few + many:
        assert customer.status == "pool" and customer.owner is None
        tasks = {task.kind: task.status for task in db.session.scalars(
            select(Task).where(Task.customer_id == customer.id))}
        assert tasks == {"callback": "skipped", "aftersales": "open"}
        assert db.session.scalar(select(func.count()).select_from(c.OwnershipChange).where(
            c.OwnershipChange.customer_id == customer.id,
            c.OwnershipChange.kind == "reclaim",
            c.OwnershipChange.from_owner_id == owner.id)) == 1
        entry = db.session.scalar(select(AuditEntry).where(
            AuditEntry.action == "customer.reclaim", AuditEntry.target_id == customer.id))
        assert entry.details["before"]["owner"] == owner.display_name
    # In chunks: the same moves, a chunk's statements each.
    chunked = idle_customers(10, 200)
    moved, statements_chunked = reclaim(chunked, chunk=4)
    assert len(moved) == 10 and all(x.status == "pool" for x in chunked)
    assert statements_chunked <= 3 * statements_few


def test_a_whole_book_transferred_takes_every_customers_open_tasks_and_audits_each(db):
    """A leaving marketer's book moves in one change: every customer's open tasks follow to
    the heir (a confirmation call stays with its confirmer), each customer gets its own
    ownership change and audit entry naming both marketers."""
    from models.tasks import Task, task_row, write_tasks
    hq = make_department("总部")
    leaving = make_user(["marketer"], department=hq, display_name="离职员")
    heir = make_user(["marketer"], department=hq, display_name="接手员")
    manager = make_user(["manager"])
    book = [make_customer(leaving, name=f"交接顾客{i}") for i in range(4)]
    now = utcnow()
    write_tasks([task_row(kind, (x.id, leaving.id, x.department_id), local_day(now),
                          f"{kind}:{x.id}", "回访") for x in book
                 for kind in ("callback", "confirm_call")], now=now)
    assert c.transfer_book(leaving, heir, actor=manager, reason="离职交接") == 4
    for customer in book:
        assignees = {task.kind: task.assignee_id for task in db.session.scalars(
            select(Task).where(Task.customer_id == customer.id, Task.status == "open"))}
        assert assignees == {"callback": heir.id, "confirm_call": leaving.id}
        change = db.session.scalar(select(c.OwnershipChange).where(
            c.OwnershipChange.customer_id == customer.id, c.OwnershipChange.kind != "create"))
        assert (change.kind, change.from_owner_id, change.to_owner_id, change.actor_id) == \
            ("transfer", leaving.id, heir.id, manager.id)
        entry = db.session.scalar(select(AuditEntry).where(
            AuditEntry.action == "customer.transfer", AuditEntry.target_id == customer.id))
        assert entry.details == {"before": {"owner": "离职员"}, "after": {"owner": "接手员"}}
        assert entry.actor_id == manager.id and entry.summary == "离职交接"


def test_moves_of_more_customers_than_a_statement_takes_parameters(db):
    """A book of 70,000 customers (PostgreSQL takes at most 65,535 parameters a statement):
    each move reads and locks its customers by one array there (SQLite's build here takes
    250,000), so an unknown id among them is a clear refusal and a pooling closes the open
    tasks of them all, not an error of the database."""
    from models.tasks import Task, close_open_tasks, follow_owner, task_row, write_tasks
    owner = make_user(["marketer"], display_name="大户")
    heir, manager = make_user(["marketer"]), make_user(["manager"])
    mine = [make_customer(owner, name=f"老客{i}") for i in range(2)]
    many = [x.id for x in mine] + list(range(10**9, 10**9 + 70_000))  # ids no row has
    for move in (lambda: c.transfer_customers(many, heir, actor=manager, reason="交接"),
                 lambda: c.release_to_pool(many, actor=manager, reason="清理"),
                 lambda: c.assign_from_pool(many, heir, actor=manager, reason="分配")):
        with pytest.raises(NotFound, match="所选顾客中有不在您管理范围内的"):
            move()
    now = utcnow()
    write_tasks([task_row("callback", (x.id, owner.id, x.department_id), local_day(now),
                          f"callback:{x.id}", "回访") for x in mine], now=now)
    follow_owner(many, heir)
    assert {t.assignee_id for t in db.session.scalars(select(Task))} == {heir.id}
    assert close_open_tasks(many, reason="进公海") == 2

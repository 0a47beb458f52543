"""The nightly runs over the customer archive: grades (A/B/C/D), the public pool reclaim
(公海回收) and the RFM scores. The rules are the customers area's (models/customers/rules.py); these jobs gather
what the rules judge from the areas that record it — purchases, check-ins, invitations, held
goods, open tasks, unresolved after-sales tickets.
"""
from datetime import timedelta

from flask_babel import gettext as _
from sqlalchemy import and_, case, exists, func, or_, select

from extensions import db
from models import customers as c
from models.aftersales import Ticket
from models.base import utcnow
from models.checkin import CheckIn
from models.clock import company_zone, day_start, local_day
from models.custody import CustodyEntry
from models.events import Invitation
from models.opening import past_purchase_rows, past_purchases_since
from models.orders import OWING_STATUSES, Order, score_rfm
from models.settings import get_setting
from models.tasks import Task, task_row, write_tasks


def _grade_facts(day):
    """The purchases and attendance of the grading window (settings), per customer:
    ({customer id: (orders, paid fen)}, {customer id: arrivals})."""
    since = c.grades_since(day)
    bought = dict(((cid, (n, paid)) for cid, n, paid in db.session.execute(
        select(Order.customer_id, func.count(), func.sum(Order.paid))
        .where(Order.status == "open", Order.created_at >= since)
        .group_by(Order.customer_id))))
    # Purchases the old system knew (历史购买) count as orders paid, within the window too.
    past = past_purchases_since(local_day(since)).subquery()
    for cid, n, paid in db.session.execute(
            select(past.c.customer_id, func.count(), func.sum(past.c.amount))
            .group_by(past.c.customer_id)):
        orders, money = bought.get(cid, (0, 0))
        bought[cid] = (orders + n, (money or 0) + (paid or 0))
    came = dict(db.session.execute(select(CheckIn.customer_id, func.count())
                                   .where(CheckIn.at >= since).group_by(CheckIn.customer_id))
                .all())
    return bought, came


def _grader(day):
    """customer id → the grade the window's facts give them (c.grade_of)."""
    bought, came = _grade_facts(day)
    rule, nothing = c.grade_rule(), (0, 0)
    return lambda cid: c.grade_of(*bought.get(cid, nothing), came.get(cid, 0), rule)


def grades(day):
    """customer id → computed grade (A/B/C/D) from the purchases and attendance of the grading
    window (settings)."""
    grade_for = _grader(day)
    return {cid: grade_for(cid) for cid in db.session.scalars(
        select(c.Customer.id).where(c.Customer.status != "merged"))}


def grade_explained(customer, day):
    """(the grade the nightly run gives `customer`, why in words): the same facts as grades(),
    for one customer's page."""
    since = c.grades_since(day)
    orders, paid = db.session.execute(
        select(func.count(), func.sum(Order.paid)).where(
            Order.customer_id == customer.id, Order.status == "open",
            Order.created_at >= since)).one()
    past = past_purchases_since(local_day(since), customer.id).subquery()
    old_orders, old_paid = db.session.execute(
        select(func.count(), func.sum(past.c.amount))).one()
    orders, paid = orders + old_orders, (paid or 0) + (old_paid or 0)
    arrivals = db.session.scalar(select(func.count()).where(
        CheckIn.customer_id == customer.id, CheckIn.at >= since))
    return c.grade_reason(orders, paid or 0, arrivals, c.grade_rule())


def grading(day, now=None):
    """Nightly grades; a manual grade wins until cleared. Returns customers regraded."""
    return c.apply_grades(_grader(day))


def pool_candidates(day):
    """Owned customers quiet long enough to be warned or reclaimed, with what protects them
    (open arrears, goods held, a task planned ahead, an unresolved after-sales ticket):
    [(customer id, owner, department, rule, reclaim day, protected)]."""
    Customer = c.Customer
    days = c.pool_days()
    warn = get_setting("pool.warn_days")
    shortest = min(days.values())
    idle_since = case((and_(Customer.last_contact_at.is_not(None),
                            Customer.last_contact_at > Customer.owned_since),
                       Customer.last_contact_at), else_=Customer.owned_since)
    horizon = day_start(day + timedelta(days=warn + 1 - shortest))
    invited = exists().where(Invitation.customer_id == Customer.id)
    attended = exists().where(Invitation.customer_id == Customer.id,
                              Invitation.status == "attended")
    bought = exists().where(Order.customer_id == Customer.id, Order.status == "open")
    owes = exists().where(Order.customer_id == Customer.id, Order.status.in_(OWING_STATUSES),
                          Order.balance_due > 0)
    holds = Customer.id.in_(select(CustodyEntry.customer_id).group_by(CustodyEntry.customer_id)
                            .having(func.sum(CustodyEntry.quantity) > 0))
    planned = exists().where(Task.customer_id == Customer.id, Task.status == "open",
                             Task.due_date > day, Task.kind != "pool_warning")
    unresolved = exists().where(Ticket.customer_id == Customer.id, Ticket.status != "closed")
    rows = db.session.execute(
        select(Customer.id, Customer.owner_id, Customer.department_id, idle_since,
               invited, attended, bought, or_(owes, holds, planned, unresolved))
        .where(Customer.status == "active", Customer.owner_id.is_not(None),
               idle_since < horizon)).all()
    found = []
    zone = company_zone()
    for cid, owner, dept, since, was_invited, came, has_bought, protected in rows:
        rule = c.pool_rule(invited=was_invited, attended=came, bought=has_bought)
        reclaim_on = c.reclaim_day(since, rule, days, zone)
        if reclaim_on <= day + timedelta(days=warn):
            found.append((cid, owner, dept, rule, reclaim_on, bool(protected)))
    return found


def pool_reclaim(day, now=None):
    """The nightly pool reclaim (公海回收): customers quiet past their rule's days go to the pool
    unless open arrears, held goods, a future task or an unresolved after-sales ticket protect
    them; owners are warned M days
    before. Returns rows written (warnings and moves)."""
    now = now or utcnow()
    why = c.pool_reasons(c.pool_days())
    title = _("Goes to the public pool on %(date)s unless followed up")
    rows, reclaim = [], {}
    for cid, owner, dept, rule, reclaim_on, protected in pool_candidates(day):
        if protected:
            continue
        if reclaim_on <= day:
            reclaim.setdefault((rule, owner), []).append(cid)
        else:
            rows.append(task_row("pool_warning", (cid, owner, dept), day,
                                 f"pool:{reclaim_on.isoformat()}",
                                 title % {"date": reclaim_on.isoformat()}, why[rule]))
    written = write_tasks(rows, now=now, once_per_source=True)
    for (rule, owner), ids in reclaim.items():
        moved = c.release_idle(ids, owner, reason=why[rule], now=now)
        written += len(moved)
    return written


def rfm(day, now=None):
    """Nightly RFM scores of every buying customer over the company (models.orders.figures):
    rewritten as of the run, so a re-run leaves the same scores. Returns customers scored."""
    return score_rfm(now or utcnow(), earlier=past_purchase_rows())

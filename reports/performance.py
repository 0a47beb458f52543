"""Performance (业绩考核): per marketer for a period, every figure a query over recorded facts,
beside the department's average and a rank; the same figures per department with totals and
the period before (month on month); a company summary per department.

The figures (period = [start, end] in the company's time zone; "now" figures are as of today):
- owned: active customers the marketer owns now;
- new: customers registered for the marketer in the period; lost: customers of theirs that went
  to the public pool (released or reclaimed) in the period;
- contacts: contacts they logged in the period (calls, visits, SMS, WeChat: 跟进记录);
- invitations: invitations they made in the period; confirmed: of those, the ones the customer
  confirmed (confirmed, attended or no-show); arrivals: check-ins in the period of customers they
  invited; attendance = arrivals / confirmed;
- deals: their open (not cancelled) orders taken in the period, a large order once confirmed;
  buyers: arrivals who bought at that event; conversion = buyers / arrivals;
- sales (DESIGN §3): the deals' totals less the value of goods returned in the period (whenever
  the order was taken); collections: money received in the period on their orders
  (deposits, balance and full payments, less reversals of those); refunds: money paid back in
  the period; returns: value of goods returned in the period;
- discounts (优惠总额): of the deals, Σ (list price × quantity of the lines when taken − the
  order's total): package prices, grade prices and discounts given (orders.pricing);
  below_floor (低于底价单数): deals with a line sold below its product's floor price (approved,
  or taken by a manager);
- arrears: money due now on their orders, by age (not yet due, 1–30, 31–60, 61–90, > 90 days);
- gift cost: cost of gifts issued in the period charged to them (less gifts taken back); points
  cost: cost of goods redeemed with points by their customers in the period (not reversed);
- callbacks: tasks due in the period — on time: done on or before the due day with the customer
  reached (outcome 已接通, or no outcome: done before outcomes were recorded), so an unanswered
  or refused call is not counted on time; late or overdue: done after the due day (any
  outcome) or still open past it;
- referrals: customers registered for them in the period who were referred by a customer;
- messages sent (#28): SMS and WeChat messages sent in the period (sent_at in it; sent or
  delivered — a failed or cancelled one was never sent) that the marketer made, or that a
  nightly job made for a customer the marketer owns now (a job's message has no maker: it is
  its customer's owner's); message cost: Σ their cost in fen (SMS parts × the price of one part
  when queued; WeChat costs nothing);
- after-sales (售后, models/aftersales.py), of the tickets assigned to the marketer (the person
  responsible, whose worklist the reminders go on): unresolved — open or in progress now;
  overdue — of those, due before today; closed — closed in the period (and not reopened since);
  average days to close — of those closed, the mean of the company days from registration to
  the close (one decimal; a reopened ticket counts from its registration to its last close).
  The department's figure is its marketers' (its average days: all their closed tickets' days
  over their number). A ticket assigned to a head or manager counts in no marketer's row.

The department average is the mean over the department's active marketers (zeros included); the
rank is by sales within the department (1 = most). When the period is exactly a month or a week,
each figure with a target (models/targets.py) shows the target and the share of it reached.
"""
from dataclasses import dataclass
from datetime import timedelta

from flask_babel import gettext as _, lazy_gettext as _l
from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import aliased

from extensions import db, reads_reports
from formatting import fen, local_day
from models.accounts import Department, User, UserRole
from models.aftersales import Ticket
from models.base import among, utcnow
from models.customers import Customer
from models.messages import CHANNELS, Message
from models.scoping import department_subtree_ids
from models.targets import period_end, period_start, targets_of
from reports import render_pdf
from reports.charts import bar_chart


@dataclass(frozen=True)
class Figure:
    key: str
    label: object
    money: bool = False
    #: A rate in percent computed from two other figures (numerator, denominator).
    rate: tuple | None = None
    #: The rows behind it can be listed (reports.rows).
    rows: bool = False
    #: As of today, not of the period (no "period before" to compare).
    now: bool = False
    #: A mean computed from two other figures (a sum, and how many it sums over).
    mean: tuple | None = None
    #: Counted only to compute another figure (a mean's sum): not shown.
    hidden: bool = False


FIGURES = (
    Figure("owned", _l("Customers owned"), now=True, rows=True),
    Figure("new", _l("New customers"), rows=True),
    Figure("lost", _l("Lost to the pool"), rows=True),
    Figure("contacts", _l("Contacts made"), rows=True),
    Figure("invitations", _l("Invitations"), rows=True),
    Figure("confirmed", _l("Confirmed"), rows=True),
    Figure("arrivals", _l("Arrivals"), rows=True),
    Figure("attendance", _l("Attendance rate"), rate=("arrivals", "confirmed")),
    Figure("deals", _l("Deals"), rows=True),
    Figure("buyers", _l("Arrivals who bought"), rows=True),
    Figure("conversion", _l("Conversion"), rate=("buyers", "arrivals")),
    Figure("sales", _l("Sales"), money=True, rows=True),
    Figure("collections", _l("Collections"), money=True, rows=True),
    Figure("refunds", _l("Refunds"), money=True, rows=True),
    Figure("returns", _l("Returns"), money=True, rows=True),
    Figure("discounts", _l("Discounts given"), money=True, rows=True),
    Figure("below_floor", _l("Orders below the floor price"), rows=True),
    Figure("arrears", _l("Arrears now"), money=True, now=True, rows=True),
    Figure("arrears_over_90", _l("of which over 90 days"), money=True, now=True),
    Figure("gift_cost", _l("Gift cost"), money=True, rows=True),
    Figure("points_cost", _l("Points cost"), money=True, rows=True),
    Figure("callbacks_on_time", _l("Callbacks on time"), rows=True),
    Figure("callbacks_overdue", _l("Callbacks late or overdue"), rows=True),
    Figure("referrals", _l("Referrals"), rows=True),
    Figure("messages_sent", _l("Messages sent"), rows=True),
    Figure("message_cost", _l("Message cost"), money=True, rows=True),
    Figure("aftersales_open", _l("After-sales unresolved"), now=True, rows=True),
    Figure("aftersales_overdue", _l("After-sales overdue"), now=True, rows=True),
    Figure("aftersales_closed", _l("After-sales closed"), rows=True),
    Figure("aftersales_close_days", _l("Days to close, summed"), hidden=True),
    Figure("aftersales_days_to_close", _l("Average days to close"),
           mean=("aftersales_close_days", "aftersales_closed")),
)
COUNTED = [f.key for f in FIGURES if f.rate is None and f.mean is None]
BY_KEY = {f.key: f for f in FIGURES}


def marketers_in(params):
    """The marketers a report covers: the department's (and below), else every marketer the
    user may see; a one-marketer report covers that marketer's department (for the average)."""
    query = select(User).where(User.is_active.is_(True), User.id.in_(
        select(UserRole.user_id).where(UserRole.role == "marketer"))).order_by(
        User.display_name)  # the marketers chosen in SQL: no query per user for their roles
    if params.marketer is not None:
        department_id = params.marketer.department_id
        if department_id is None:
            return [params.marketer]
        query = query.where(User.department_id == department_id)
    elif params.department is not None:
        query = query.where(User.department_id.in_(department_subtree_ids(
            params.department.id)))
    elif not params.user.has_role("admin", "manager", "finance"):
        query = query.where(User.department_id.in_(department_subtree_ids(
            params.user.department_id)))
    marketers = list(db.session.scalars(query))
    if params.marketer is not None and params.marketer not in marketers:
        marketers.append(params.marketer)
    return marketers


#: The outbox statuses of a message that went out.
SENT = ("sent", "delivered")


def message_sender():
    """Whose message it is: who made it, else (a nightly job's) its customer's owner now."""
    return func.coalesce(Message.made_by_id, Customer.owner_id)


def _reached(Task):
    """A done task counted as done on time: the customer was reached (or the task was done
    before outcomes were recorded)."""
    return or_(Task.outcome == "reached", Task.outcome.is_(None))


def _grouped(statement):
    return {key: value or 0 for key, value in db.session.execute(statement)}


def figures(params, marketer_ids, *, now_figures=True):
    """marketer id → {figure: value} (counts and fen; rates added after). `now_figures`: also
    those as of today (owned, arrears) — the period before needs none of them."""
    from models.checkin import CheckIn
    from models.customers import ContactLog, Customer, OwnershipChange
    from models.events import Invitation
    from models.gifts import GiftIssue
    from models.orders import OWING_STATUSES, Order, OrderReturn, Payment
    from models.points import Redemption
    from models.tasks import Task
    since, until = params.since, params.until
    ids = list(marketer_ids)
    today = local_day(utcnow())
    in_period = lambda column: and_(column >= since, column < until)  # noqa: E731
    got = {
        "owned": _grouped(select(Customer.owner_id, func.count()).where(
            among(Customer.owner_id, ids), Customer.status == "active")
            .group_by(Customer.owner_id)) if now_figures else {},
        "new": _grouped(select(OwnershipChange.to_owner_id, func.count()).where(
            among(OwnershipChange.to_owner_id, ids), OwnershipChange.kind == "create",
            in_period(OwnershipChange.at)).group_by(OwnershipChange.to_owner_id)),
        "lost": _grouped(select(OwnershipChange.from_owner_id, func.count()).where(
            among(OwnershipChange.from_owner_id, ids), OwnershipChange.to_owner_id.is_(None),
            in_period(OwnershipChange.at)).group_by(OwnershipChange.from_owner_id)),
        "contacts": _grouped(select(ContactLog.actor_id, func.count()).where(
            among(ContactLog.actor_id, ids), in_period(ContactLog.at))
            .group_by(ContactLog.actor_id)),
        "arrivals": _grouped(select(Invitation.inviter_id, func.count()).join(
            CheckIn, CheckIn.invitation_id == Invitation.id).where(
            among(Invitation.inviter_id, ids), in_period(CheckIn.at))
            .group_by(Invitation.inviter_id)),
        "buyers": _grouped(select(Invitation.inviter_id, func.count(func.distinct(
            CheckIn.customer_id))).join(CheckIn, CheckIn.invitation_id == Invitation.id)
            .join(Order, and_(Order.event_id == CheckIn.event_id,
                              Order.customer_id == CheckIn.customer_id,
                              Order.status == "open"))
            .where(among(Invitation.inviter_id, ids), in_period(CheckIn.at))
            .group_by(Invitation.inviter_id)),
        "returns": _grouped(select(Order.marketer_id, func.sum(OrderReturn.value)).join(
            Order, Order.id == OrderReturn.order_id).where(
            among(Order.marketer_id, ids), in_period(OrderReturn.at))
            .group_by(Order.marketer_id)),
        "gift_cost": _grouped(select(GiftIssue.marketer_id, func.sum(case(
            (GiftIssue.reverses_id.is_(None), GiftIssue.cost), else_=-GiftIssue.cost))).where(
            among(GiftIssue.marketer_id, ids), in_period(GiftIssue.at))
            .group_by(GiftIssue.marketer_id)),
        "points_cost": _grouped(select(Customer.owner_id, func.sum(Redemption.cost)).join(
            Customer, Customer.id == Redemption.customer_id).where(
            among(Customer.owner_id, ids), Redemption.reversed_at.is_(None),
            in_period(Redemption.at)).group_by(Customer.owner_id)),
        "callbacks_on_time": _grouped(select(Task.assignee_id, func.count()).where(
            among(Task.assignee_id, ids), Task.due_date >= params.start,
            Task.due_date <= params.end, Task.status == "done", Task.done_on <= Task.due_date,
            _reached(Task)).group_by(Task.assignee_id)),
        "callbacks_overdue": _grouped(select(Task.assignee_id, func.count()).where(
            among(Task.assignee_id, ids), Task.due_date >= params.start,
            Task.due_date <= params.end,
            or_(and_(Task.status == "done", Task.done_on > Task.due_date),
                and_(Task.status == "open", Task.due_date < today)))
            .group_by(Task.assignee_id)),
        "referrals": _grouped(select(OwnershipChange.to_owner_id, func.count()).join(
            Customer, Customer.id == OwnershipChange.customer_id).where(
            among(OwnershipChange.to_owner_id, ids), OwnershipChange.kind == "create",
            Customer.referrer_id.is_not(None), in_period(OwnershipChange.at))
            .group_by(OwnershipChange.to_owner_id)),
    }
    got["invitations"], got["confirmed"] = {}, {}
    for inviter_id, invited, confirmed in db.session.execute(
            select(Invitation.inviter_id, func.count(), func.sum(case(
                (Invitation.status.in_(("confirmed", "attended", "no_show")), 1), else_=0)))
            .where(among(Invitation.inviter_id, ids), in_period(Invitation.created_at))
            .group_by(Invitation.inviter_id)):
        got["invitations"][inviter_id], got["confirmed"][inviter_id] = invited, confirmed or 0
    got["deals"], got["sales"], got["discounts"], got["below_floor"] = {}, {}, {}, {}
    for marketer_id, deals, sales, discounts, below in db.session.execute(
            select(Order.marketer_id, func.count(), func.sum(Order.total),
                   func.sum(case((Order.list_total > Order.total,
                                  Order.list_total - Order.total), else_=0)),
                   func.sum(case((Order.below_floor, 1), else_=0))).where(
                among(Order.marketer_id, ids), Order.status == "open",
                Order.confirmation != "pending",  # a large order counts once confirmed
                in_period(Order.created_at)).group_by(Order.marketer_id)):
        got["deals"][marketer_id], got["sales"][marketer_id] = deals, sales or 0
        got["discounts"][marketer_id], got["below_floor"][marketer_id] = discounts or 0, \
            below or 0
    for marketer_id, returned in got["returns"].items():  # net of the goods brought back
        got["sales"][marketer_id] = got["sales"].get(marketer_id, 0) - (returned or 0)
    # Money received and paid back. Reversals are few: they count with the kind of the entry
    # they reverse, read apart so the big sum needs no self-join.
    got["collections"], got["refunds"] = {}, {}
    refund = Payment.kind == "refund"
    per_order = (select(Payment.order_id,
                        func.sum(case((refund, 0), else_=Payment.amount)).label("received"),
                        func.sum(case((refund, -Payment.amount), else_=0)).label("paid_back"))
                 .where(in_period(Payment.at), Payment.kind != "reversal")
                 .group_by(Payment.order_id).subquery())  # summed per order first: far fewer
    for marketer_id, received, paid_back in db.session.execute(  # rows to join
            select(Order.marketer_id, func.sum(per_order.c.received),
                   func.sum(per_order.c.paid_back))
            .join(Order, Order.id == per_order.c.order_id)
            .where(among(Order.marketer_id, ids)).group_by(Order.marketer_id)):
        got["collections"][marketer_id] = received or 0
        got["refunds"][marketer_id] = paid_back or 0
    # Found by the reversal's link alone (an index of the few reversals), the period applied
    # here: with the period in SQL too, SQLite walks every payment of the period by date.
    original = aliased(Payment)
    reversals = [(order_id, what, amount) for order_id, what, amount, at in db.session.execute(
        select(Payment.order_id, original.kind, Payment.amount, Payment.at)
        .join(original, original.id == Payment.reverses_id)
        .where(Payment.reverses_id > 0)) if since <= at < until]
    credited = dict(db.session.execute(select(Order.id, Order.marketer_id).where(
        Order.id.in_({order_id for order_id, _kind, _amount in reversals}))).all()) \
        if reversals else {}
    wanted = set(ids)
    for order_id, what, amount in reversals:
        marketer_id = credited.get(order_id)
        if marketer_id not in wanted:
            continue
        key = "refunds" if what == "refund" else "collections"
        got[key][marketer_id] = got[key].get(marketer_id, 0) + (
            -amount if key == "refunds" else amount)
    arrears, old = {}, {}
    # Over 90 days: due more than 90 days before today (summed in SQL: a row per marketer, not
    # one per due date).
    for marketer_id, due, overdue in [] if not now_figures else db.session.execute(
            select(Order.marketer_id, func.sum(Order.balance_due), func.sum(case(
                (Order.due_date < today - timedelta(days=90), Order.balance_due), else_=0)))
            .where(among(Order.marketer_id, ids), Order.status.in_(OWING_STATUSES),
                   Order.balance_due > 0)
            .group_by(Order.marketer_id)):
        arrears[marketer_id], old[marketer_id] = due or 0, overdue or 0
    got["arrears"], got["arrears_over_90"] = arrears, old
    got["aftersales_open"], got["aftersales_overdue"] = {}, {}
    for assignee_id, unresolved, overdue in [] if not now_figures else db.session.execute(
            select(Ticket.assignee_id, func.count(), func.sum(case(
                (Ticket.due_date < today, 1), else_=0)))
            .where(among(Ticket.assignee_id, ids), Ticket.status != "closed")
            .group_by(Ticket.assignee_id)):
        got["aftersales_open"][assignee_id] = unresolved
        got["aftersales_overdue"][assignee_id] = overdue or 0
    got["messages_sent"], got["message_cost"] = {}, {}
    sender = message_sender()
    for marketer_id, sent, cost in db.session.execute(
            select(sender, func.count(Message.id), func.sum(Message.cost_fen))
            .select_from(Message).join(Customer, Customer.id == Message.customer_id)
            .where(among(sender, ids), Message.status.in_(SENT), in_period(Message.sent_at))
            .group_by(sender)):
        got["messages_sent"][marketer_id], got["message_cost"][marketer_id] = sent, cost or 0
    got["aftersales_closed"], got["aftersales_close_days"] = {}, {}
    for assignee_id, closed, days in db.session.execute(
            select(Ticket.assignee_id, func.count(), func.sum(Ticket.days_to_close))
            .where(among(Ticket.assignee_id, ids), Ticket.status == "closed",
                   in_period(Ticket.closed_at))
            .group_by(Ticket.assignee_id)):
        got["aftersales_closed"][assignee_id] = closed
        got["aftersales_close_days"][assignee_id] = days or 0
    return {m: {key: got.get(key, {}).get(m, 0) for key in COUNTED} for m in ids}


def with_rates(row):
    """The row with its rates (percent) and means added, from the counted figures."""
    for figure in FIGURES:
        if figure.rate:
            top, bottom = row[figure.rate[0]], row[figure.rate[1]]
            row[figure.key] = round(100 * top / bottom, 1) if bottom else None
        elif figure.mean:
            total, count = row[figure.mean[0]], row[figure.mean[1]]
            row[figure.key] = round(total / count, 1) if count else None
    return row


def shown_figures():
    """The figures a report shows, as plain data."""
    return [{"key": f.key, "label": str(f.label), "money": f.money, "rate": bool(f.rate),
             "mean": bool(f.mean), "rows": f.rows, "now": f.now}
            for f in FIGURES if not f.hidden]


def _average(rows):
    if not rows:
        return {key: 0 for key in COUNTED}
    average = {key: sum(r[key] for r in rows) / len(rows) for key in COUNTED}
    return with_rates(average)


def _total(rows):
    return with_rates({key: sum(r[key] for r in rows) for key in COUNTED})


@reads_reports
def gather(params):
    """Plain data for the marketer and department reports: one row per marketer covered (with
    the department's average and a rank by sales), totals, and the totals of the period before.
    """
    marketers = marketers_in(params)
    values = figures(params, [m.id for m in marketers])
    previous = figures(params.previous(), [m.id for m in marketers], now_figures=False)
    departments = {d.id: d.name for d in db.session.scalars(select(Department))}
    by_department = {}
    for marketer in marketers:
        by_department.setdefault(marketer.department_id, []).append(marketer)
    rows = []
    for department_id, people in by_department.items():
        dept_rows = [values[m.id] for m in people]
        average = _average(dept_rows)
        ranked = sorted(people, key=lambda m: (-values[m.id]["sales"], m.display_name))
        for marketer in people:
            rows.append({"id": marketer.id, "name": marketer.display_name,
                         "department": departments.get(department_id, _("No department")),
                         "department_id": department_id,
                         "values": with_rates(dict(values[marketer.id])),
                         "average": average,
                         "rank": ranked.index(marketer) + 1, "of": len(people)})
    rows.sort(key=lambda r: (r["department"], r["rank"]))
    period = target_period(params)
    if period is not None:  # a month or a week: each figure's target beside it
        set_ = targets_of("marketer", [r["id"] for r in rows], period, params.start)
        for row in rows:
            row["targets"] = {key: {"target": value, "done": row["values"][key] * 100 / value
                                    if value else None}
                              for key, value in set_.get(row["id"], {}).items()}
    if params.marketer is not None:
        rows = [r for r in rows if r["id"] == params.marketer.id]
    total = _total([values[r["id"]] for r in rows])
    before = _total([previous[r["id"]] for r in rows])
    return {"title": _("Marketer performance") if params.marketer else
            _("Department performance"),
            "period": params.label, "previous_period": params.previous().label,
            "scope": params.marketer.display_name if params.marketer else
            params.department.name if params.department else _("All I may see"),
            "figures": shown_figures(),
            "rows": rows, "total": total, "before": before,
            "change": {key: _change(total[key], before[key]) for key in total},
            "charts": sales_charts(rows), "args": params.as_args()}


def target_period(params):
    """"month" or "week" when the report covers exactly one (targets are set per month or per
    week: they are shown beside the figures then), else None."""
    if params.start == period_start("month", params.start) and \
            params.end == period_end("month", params.start):
        return "month"
    if params.start == period_start("week", params.start) and \
            params.end == period_end("week", params.start):
        return "week"
    return None


def sales_charts(rows):
    """Per department: each marketer's sales as a bar, the department's average as a dashed
    line — [{"department", "svg", "print_width" (mm: a chart fits on a printed page)}] in the
    rows' order. Many marketers get thinner bars."""
    charts, groups = [], {}
    for row in rows:
        groups.setdefault(row["department_id"], []).append(row)
    width = 520
    for people in groups.values():
        average = round(people[0]["average"]["sales"])
        bar_height, gap, font_size = (22, 8, 13) if len(people) <= 8 else (12, 4, 10)
        height = len(people) * (bar_height + gap) + gap + 18
        charts.append({"department": people[0]["department"], "svg": bar_chart(
            [{"label": r["name"], "value": r["values"]["sales"],
              "text": fen(r["values"]["sales"])} for r in people],
            width=width, css_class="sales-chart", value_width=110, bar_height=bar_height,
            gap=gap, font_size=font_size, title=_("Sales against the department average"),
            marker={"value": average, "label": _("%(department)s average %(amount)s",
                                                 department=people[0]["department"],
                                                 amount=fen(average))}),
            "print_width": min(170, 150 * width // height)})
    return charts


@reads_reports
def gather_company(params):
    """The company summary: one row per department (its marketers' figures added up), totals,
    and the period before."""
    marketers = marketers_in(params)
    values = figures(params, [m.id for m in marketers])
    previous = figures(params.previous(), [m.id for m in marketers], now_figures=False)
    departments = {d.id: d.name for d in db.session.scalars(select(Department))}
    groups = {}
    for marketer in marketers:
        groups.setdefault(marketer.department_id, []).append(marketer.id)
    rows = [{"id": department_id, "name": departments.get(department_id, _("No department")),
             "people": len(ids), "values": _total([values[i] for i in ids])}
            for department_id, ids in groups.items()]
    rows.sort(key=lambda r: -r["values"]["sales"])
    total = _total([values[m.id] for m in marketers])
    before = _total([previous[m.id] for m in marketers])
    return {"title": _("Company summary"), "period": params.label,
            "previous_period": params.previous().label, "rows": rows, "total": total,
            "before": before, "change": {key: _change(total[key], before[key]) for key in total},
            "figures": shown_figures(),
            "args": params.as_args()}


def _change(now, before):
    if now is None or before is None or not before:
        return None
    return round(100 * (now - before) / before, 1)


def build(data, *, printed_by):
    return render_pdf("print/performance.html", {**data, "printed_by": printed_by,
                                                 "printed_at": utcnow()})


def rows_behind(params, key, marketer_id):
    """The records a figure counts, for one marketer: [(label, value, url or None)], newest
    first, at most 500."""
    from flask import url_for

    from models.checkin import CheckIn
    from models.customers import Customer, OwnershipChange
    from models.events import Invitation
    from models.gifts import GiftIssue
    from models.orders import OWING_STATUSES, PAYMENT_KINDS, Order, Payment
    from models.tasks import Task
    since, until = params.since, params.until
    today = local_day(utcnow())
    period = lambda column: and_(column >= since, column < until)  # noqa: E731
    if key in ("deals", "sales", "discounts", "below_floor"):
        query = select(Order).where(
            Order.marketer_id == marketer_id, Order.status == "open",
            Order.confirmation != "pending", period(Order.created_at))
        if key in ("discounts", "below_floor"):
            query = query.where(Order.below_floor.is_(True)) if key == "below_floor" else \
                query.where(Order.list_total > Order.total)
            return [(f"{o.number} · {o.customer.name}" + (f" · {o.price_reason}"
                                                          if o.price_reason else ""),
                     o.discount_given if key == "discounts" else None, key == "discounts",
                     url_for("orders.show", order_id=o.id))
                    for o in db.session.scalars(query.order_by(Order.created_at.desc())
                                                .limit(500))]
        found = db.session.scalars(query.order_by(Order.created_at.desc()).limit(500))
        rows = [(f"{o.number} · {o.customer.name}", o.total, True,
                 url_for("orders.show", order_id=o.id)) for o in found]
        if key == "sales":  # the goods brought back in the period come off
            rows += [(label, -value, True, url)
                     for label, value, _c, url in rows_behind(params, "returns", marketer_id)]
        return rows
    if key in ("collections", "refunds"):
        original = aliased(Payment)
        kind = func.coalesce(original.kind, Payment.kind)
        wanted = kind == "refund" if key == "refunds" else kind != "refund"
        found = db.session.execute(select(Payment, Order).join(
            Order, Order.id == Payment.order_id).outerjoin(
            original, original.id == Payment.reverses_id).where(
            Order.marketer_id == marketer_id, period(Payment.at), wanted)
            .order_by(Payment.at.desc()).limit(500))
        return [(f"{o.number} · {local_day(p.at)} · {PAYMENT_KINDS.get(p.kind, p.kind)}",
                 -p.amount if key == "refunds" else p.amount, True,
                 url_for("orders.show", order_id=o.id)) for p, o in found]
    if key in ("invitations", "confirmed"):
        query = select(Invitation).where(Invitation.inviter_id == marketer_id,
                                         period(Invitation.created_at))
        if key == "confirmed":
            query = query.where(Invitation.status.in_(("confirmed", "attended", "no_show")))
        return [(f"{i.customer.name} · {i.event.title}", None, False,
                 url_for("events.show", event_id=i.event_id))
                for i in db.session.scalars(query.order_by(Invitation.created_at.desc())
                                            .limit(500))]
    if key == "contacts":
        from models.customers import CONTACT_KINDS, ContactLog
        found = db.session.execute(select(ContactLog, Customer).join(
            Customer, Customer.id == ContactLog.customer_id).where(
            ContactLog.actor_id == marketer_id, period(ContactLog.at))
            .order_by(ContactLog.at.desc()).limit(500))
        return [(f"{c.name} · {CONTACT_KINDS.get(log.kind, log.kind)} · {local_day(log.at)}",
                 None, False, url_for("customers.show", customer_id=c.id))
                for log, c in found]
    if key == "arrivals":
        found = db.session.execute(select(CheckIn, Invitation).join(
            Invitation, Invitation.id == CheckIn.invitation_id).where(
            Invitation.inviter_id == marketer_id, period(CheckIn.at))
            .order_by(CheckIn.at.desc()).limit(500))
        return [(f"{i.customer.name} · {i.event.title} · {local_day(c.at)}", None, False,
                 url_for("events.show", event_id=i.event_id)) for c, i in found]
    if key in ("new", "lost"):
        query = select(OwnershipChange).where(period(OwnershipChange.at))
        query = query.where(OwnershipChange.to_owner_id == marketer_id,
                            OwnershipChange.kind == "create") if key == "new" else \
            query.where(OwnershipChange.from_owner_id == marketer_id,
                        OwnershipChange.to_owner_id.is_(None))
        found = db.session.execute(select(OwnershipChange, Customer).join(
            Customer, Customer.id == OwnershipChange.customer_id).where(
            OwnershipChange.id.in_(query.with_only_columns(OwnershipChange.id)))
            .order_by(OwnershipChange.at.desc()).limit(500))
        return [(f"{c.name} · {local_day(change.at)}", None, False,
                 url_for("customers.show", customer_id=c.id)) for change, c in found]
    if key == "gift_cost":
        found = db.session.scalars(select(GiftIssue).where(
            GiftIssue.marketer_id == marketer_id, period(GiftIssue.at))
            .order_by(GiftIssue.at.desc()).limit(500))
        return [(f"{g.customer.name} · {g.product.name} × {g.quantity}", g.signed_cost, True,
                 None) for g in found]
    if key == "buyers":
        # As the figure counts them: each customer once (their latest arrival), with the orders
        # they placed at the events they arrived at.
        found = db.session.execute(select(CheckIn, Invitation, Order).join(
            Invitation, Invitation.id == CheckIn.invitation_id).join(
            Order, and_(Order.event_id == CheckIn.event_id,
                        Order.customer_id == CheckIn.customer_id, Order.status == "open"))
            .where(Invitation.inviter_id == marketer_id, period(CheckIn.at))
            .order_by(CheckIn.at.desc(), CheckIn.id.desc(), Order.id))
        buyers = {}
        for check_in, invitation, order in found:
            buyer = buyers.setdefault(check_in.customer_id, {
                "name": invitation.customer.name, "event": invitation.event.title,
                "day": local_day(check_in.at), "orders": [], "url": url_for(
                    "orders.show", order_id=order.id)})
            if order.number not in buyer["orders"]:
                buyer["orders"].append(order.number)
        return [(f"{b['name']} · {b['event']} · {b['day']} · {'、'.join(b['orders'])}", None,
                 False, b["url"]) for b in list(buyers.values())[:500]]
    if key == "points_cost":
        from models.points import Redemption
        found = db.session.execute(select(Redemption, Customer).join(
            Customer, Customer.id == Redemption.customer_id).where(
            Customer.owner_id == marketer_id, Redemption.reversed_at.is_(None),
            period(Redemption.at)).order_by(Redemption.at.desc(), Redemption.id.desc())
            .limit(500))
        return [(f"{r.number} · {c.name} · {local_day(r.at)} · {r.points}", r.cost, True,
                 url_for("points.redemption", redemption_id=r.id)) for r, c in found]
    if key in ("callbacks_on_time", "callbacks_overdue"):
        query = select(Task).where(Task.assignee_id == marketer_id,
                                   Task.due_date >= params.start, Task.due_date <= params.end)
        query = query.where(Task.status == "done", Task.done_on <= Task.due_date,
                            _reached(Task)) \
            if key == "callbacks_on_time" else query.where(or_(
                and_(Task.status == "done", Task.done_on > Task.due_date),
                and_(Task.status == "open", Task.due_date < today)))
        return [(f"{x.customer.name} · {x.kind_label} · {x.due_date}", None, False,
                 url_for("customers.show", customer_id=x.customer_id))
                for x in db.session.scalars(query.order_by(Task.due_date.desc()).limit(500))]
    if key in ("aftersales_open", "aftersales_overdue", "aftersales_closed"):
        query = select(Ticket).where(Ticket.assignee_id == marketer_id)
        if key == "aftersales_closed":
            query = query.where(Ticket.status == "closed", period(Ticket.closed_at)) \
                .order_by(Ticket.closed_at.desc())
        else:
            query = query.where(Ticket.status != "closed").order_by(Ticket.due_date, Ticket.id)
            if key == "aftersales_overdue":
                query = query.where(Ticket.due_date < today)
        return [(f"{x.number} · {x.customer.name} · {x.kind_label} · " + (
                    _("closed %(day)s, %(n)s days", day=local_day(x.closed_at),
                      n=x.days_to_close) if x.status == "closed" else
                    _("due %(day)s", day=x.due_date.isoformat())), None, False,
                 url_for("aftersales.show", ticket_id=x.id))
                for x in db.session.scalars(query.limit(500))]
    if key in ("messages_sent", "message_cost"):
        found = db.session.execute(select(Message, Customer).join(
            Customer, Customer.id == Message.customer_id).where(
            message_sender() == marketer_id, Message.status.in_(SENT), period(Message.sent_at))
            .order_by(Message.sent_at.desc(), Message.id.desc()).limit(500))
        return [(f"{c.name} · {CHANNELS[x.channel]} · {local_day(x.sent_at)}",
                 x.cost_fen if key == "message_cost" else None, key == "message_cost",
                 url_for("customers.show", customer_id=c.id)) for x, c in found]
    if key == "owned":
        return [(x.name, None, False, url_for("customers.show", customer_id=x.id))
                for x in db.session.scalars(select(Customer).where(
                    Customer.owner_id == marketer_id, Customer.status == "active")
                    .order_by(Customer.name_pinyin).limit(500))]
    if key == "referrals":
        found = db.session.execute(select(OwnershipChange, Customer).join(
            Customer, Customer.id == OwnershipChange.customer_id).where(
            OwnershipChange.to_owner_id == marketer_id, OwnershipChange.kind == "create",
            Customer.referrer_id.is_not(None), period(OwnershipChange.at))
            .order_by(OwnershipChange.at.desc()).limit(500))
        return [(f"{c.name} · {local_day(change.at)}", None, False,
                 url_for("customers.show", customer_id=c.id)) for change, c in found]
    if key == "returns":
        from models.orders import OrderReturn
        found = db.session.execute(select(OrderReturn, Order).join(
            Order, Order.id == OrderReturn.order_id).where(
            Order.marketer_id == marketer_id, period(OrderReturn.at))
            .order_by(OrderReturn.at.desc()).limit(500))
        return [(f"{o.number} · {local_day(r.at)}", r.value, True,
                 url_for("orders.show", order_id=o.id)) for r, o in found]
    if key == "arrears":
        found = db.session.scalars(select(Order).where(
            Order.marketer_id == marketer_id, Order.status.in_(OWING_STATUSES),
            Order.balance_due > 0).order_by(Order.due_date, Order.id).limit(500))
        return [(f"{o.number} · {o.customer.name} · {o.due_date or ''}", o.balance_due, True,
                 url_for("orders.show", order_id=o.id)) for o in found]
    return []


def period_days(params):
    return [params.start + timedelta(days=n) for n in range(params.days)]

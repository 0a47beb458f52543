"""The home page of each role (首页, issue #27 §3): the figures a person starts the day with.
Plain data only; the template links each figure to its list. Every figure is summed in SQL.

Days are the company's (models.clock); "today" ends now, "the month" is the calendar month so
far; "the marketers" are the active marketers the user supervises — every one for a manager (or
administrator), those of the head's department and the departments below it for a head. For a
manager the figures below are the whole company's: every invitation, order and payment, whoever
is credited (read from the indexes by date alone, with no marketer to look up per row).

Manager and department head (`manager(user, today, now)`):
- arrivals: check-ins (today / this month) of guests the marketers invited;
- deals: the marketers' binding orders taken (open, and a large order once confirmed);
- sales: the deals' totals less the value of goods returned in the same days (on any of the
  marketers' orders, whenever taken);
- collections: money received on the marketers' orders (deposits, balance and full payments;
  a reversal of one of those takes it off, on the reversal's day);
  these four are the performance report's figures of the same name (reports/performance.py);
- target: the sum of the marketers' targets for the month (models/targets.py), none when no
  marketer has one; done = month's actual ÷ target; pace = the share of the month gone;
- arrears: what the customers still owe now on the marketers' open orders and old debts;
- overdue tasks: per marketer (assignee), open tasks due before today — the ones the user may
  see (the tasks scope), most first;
- upcoming events: planned, open or running events starting from today to 13 days ahead, with
  the people confirmed (each confirmed or arrived guest and their expected companions — what
  the capacity counts, models/events.confirmed_people);
- near expiry / expired / low stock: the warehouse's lists (inventory.expiring, below_threshold);
- trends: the last 12 weeks (Monday to Sunday, the last one this week so far) of arrivals,
  sales and collections, defined as above.

Marketer (`marketer(user, today, now)`):
- targets and pace: reports/targets.marketers_progress for the month (the performance figures);
- today's tasks: the top of "Today" (models/tasks.today_list): open tasks overdue and due today;
- next event: the first event not yet over (planned, open or running) for which a guest the
  marketer invited is confirmed; its confirmed guests (and arrived ones) with their companions;
- after-sales: the unresolved tickets (open or in progress) the marketer may see (those of their
  customers and those assigned to them), by customer, soonest due first.

Warehouse (`warehouse(today, now)`):
- pickups due: customers holding goods who have not collected (nor deposited) for the reminder
  days (custody.remind_after_days) — the scheduler's pickup reminders (custody.not_collected);
- expiring batches: stock whose batch expires within inventory.near_expiry_days, and expired;
- below the minimum: active products whose free stock across warehouses is at or below their
  low-stock threshold (the per-product minimum on the product form);
- gifts for upcoming events: for each event of the next 14 days with an attendance gift, the
  first active attendance rule (the one an invited guest gets): needed = its quantity × guests
  confirmed + its companion quantity × their companions; beside it what is free at the event's
  warehouse (gifts.gift_left); short when needed > free.

Finance (`finance(today, now)`):
- collections today by method: the day's ledger entries as the daily close sums them
  (orders.summarise): received = entries above zero, refunded = below zero, net = their sum;
- days not closed: the last 31 days before today with entries no standing (not reopened) close
  covers, with whose (the cashiers);
- refunds awaiting: orders on which money is owed back to the customer (balance below zero: paid
  more than is kept after returns) — a refund for finance or a manager to approve and pay;
- arrears over 90 days: money still due on open orders and old debts whose due date is more
  than 90 days before today.
"""
from datetime import timedelta

from flask_babel import gettext as _
from sqlalchemy import case, func, select

from extensions import db
from formatting import fen
from models import custody, gifts, inventory as inv
from models.activity import activity as day_activity
from models.accounts import User, UserRole
from models.aftersales import find_tickets
from models.base import among
from models.clock import day_start
from models.customers import Customer
from models.events import Event, Invitation, visible_events
from models.orders import OWING_STATUSES, CashClose, CashClosePayment, Order, Payment
from models.orders.tables import METHODS
from models.scoping import department_subtree
from models.targets import elapsed, targets_of
from models.tasks import today_list, visible_tasks
from models.tasks.tables import Task
from reports import targets as progress
from reports.charts import column_chart

#: How many weeks the trend charts show; how many days ahead "upcoming" looks; how many rows a
#: list on the home page shows (its link opens the whole list).
WEEKS, AHEAD_DAYS, SHOWN = 12, 14, 8
#: Events still to happen or happening.
COMING = ("planning", "open", "in_progress")


def _bucket(column, bounds):
    """The index i of the span [bounds[i], bounds[i+1]) holding `column` (a CASE: one query sums
    every span)."""
    return case(*[(column < bound, index) for index, bound in enumerate(bounds[1:-1])],
                else_=len(bounds) - 2)


def supervised_marketers(user):
    """The ids of the active marketers `user` supervises (every one for a manager)."""
    query = select(User.id).where(User.is_active.is_(True), User.id.in_(
        select(UserRole.user_id).where(UserRole.role == "marketer")))
    if not user.has_role("admin", "manager"):
        query = query.where(User.department_id.in_(department_subtree(user.department_id)))
    return list(db.session.scalars(query))


def activity(marketer_ids, today):
    """{"arrivals"|"deals"|"sales"|"collections": {"weeks": [12], "month", "today"}} for the
    marketers (the module's definitions); `marketer_ids` None: the whole company's. The closed
    days come from the day figures the nightly run keeps, today (and a day changed since) from
    the ledgers: models/activity.py."""
    return day_activity(marketer_ids, today, WEEKS)


def week_labels(today):
    """The trend's week labels (the Monday, as month/day), oldest first."""
    monday = today - timedelta(days=today.weekday())
    return [f"{d.month}/{d.day}" for d in
            (monday - timedelta(weeks=WEEKS - 1 - n) for n in range(WEEKS))]


def arrears_of(marketer_ids, today):
    """(money due now, of which due more than 90 days ago) on the marketers' orders (None: on
    every order)."""
    query = select(
        func.coalesce(func.sum(Order.balance_due), 0),
        func.coalesce(func.sum(case((Order.due_date < today - timedelta(days=90),
                                     Order.balance_due), else_=0)), 0)).where(
        Order.status.in_(OWING_STATUSES), Order.balance_due > 0)
    if marketer_ids is not None:
        query = query.where(among(Order.marketer_id, marketer_ids))
    due, old = db.session.execute(query).one()
    return due, old


def overdue_tasks(user, today):
    """[{"id", "name", "overdue"}] per assignee, most first (at most SHOWN), and the total."""
    tasks = visible_tasks(user).where(Task.status == "open", Task.due_date < today).subquery()
    rows = db.session.execute(select(tasks.c.assignee_id, func.count()).group_by(
        tasks.c.assignee_id).order_by(func.count().desc())).all()
    names = dict(db.session.execute(select(User.id, User.display_name).where(
        User.id.in_([r[0] for r in rows[:SHOWN]]))).all()) if rows else {}
    return ([{"id": i, "name": names[i], "overdue": n} for i, n in rows[:SHOWN]],
            sum(n for _i, n in rows))


def upcoming_events(user, today, *, days=AHEAD_DAYS):
    """[{"id", "title", "starts_at", "status", "capacity", "confirmed"}] of the events starting
    from today to `days` − 1 days ahead, soonest first (at most SHOWN)."""
    events = db.session.scalars(visible_events(user).where(
        Event.status.in_(COMING), Event.starts_at >= day_start(today),
        Event.starts_at < day_start(today + timedelta(days=days))).order_by(
        Event.starts_at).limit(SHOWN)).all()
    people = dict(db.session.execute(
        select(Invitation.event_id, func.sum(Invitation.companions + 1))
        .where(Invitation.event_id.in_([e.id for e in events]),
               Invitation.status.in_(("confirmed", "attended")))
        .group_by(Invitation.event_id)).all()) if events else {}
    return [{"id": e.id, "title": e.title, "starts_at": e.starts_at, "status": e.status,
             "capacity": e.capacity, "confirmed": people.get(e.id, 0)} for e in events]


def stock_alerts(today):
    """{"near", "expired", "low": counts, "low_rows": [(name, free, minimum)]}."""
    near, expired = inv.expiring(today)
    low = inv.below_threshold()
    return {"near": len(near), "expired": len(expired), "low": len(low),
            "near_rows": [{"product": r["product"].name, "batch": r["batch"].number,
                           "expiry": r["batch"].expiry_date, "days_left": r["days_left"],
                           "quantity": r["free"] + r["held"], "warehouse": r["warehouse"].name}
                          for r in sorted(expired + near,
                                          key=lambda r: r["batch"].expiry_date)[:SHOWN]],
            "low_rows": [{"id": p.id, "product": p.name, "free": free,
                          "minimum": p.low_stock_threshold} for p, free in low[:SHOWN]]}


def manager(user, today):
    """The manager's (or department head's) home: the module's figures."""
    ids = supervised_marketers(user)
    everyone = user.has_role("admin", "manager")
    figures = activity(None if everyone else ids, today)
    start = today.replace(day=1)
    set_ = targets_of("marketer", ids, "month", start)
    totals = {}
    for targets in set_.values():
        for figure, value in targets.items():
            totals[figure] = totals.get(figure, 0) + value
    pace = elapsed("month", start, today) * 100
    due, old = arrears_of(None if everyone else ids, today)
    labels = week_labels(today)
    cards = []
    for key, label, money in (("arrivals", _("Arrivals"), False), ("deals", _("Deals"), False),
                              ("sales", _("Sales"), True),
                              ("collections", _("Money collected"), True)):
        values = figures[key]
        target = totals.get(key)
        show = fen if money else str
        cards.append({
            "key": key, "label": label, "money": money, "today": values["today"],
            "month": values["month"], "target": target,
            "done": values["month"] * 100 / target if target else None,
            "chart": column_chart([{"label": w, "value": v, "text": show(v)}
                                   for w, v in zip(labels, values["weeks"])],
                                  title=_("%(figure)s, last 12 weeks", figure=label))})
    tasks, overdue_total = overdue_tasks(user, today)
    return {"marketers": len(ids), "pace": pace, "cards": cards, "arrears": due,
            "arrears_over_90": old, "overdue": tasks, "overdue_total": overdue_total,
            "events": upcoming_events(user, today), "stock": stock_alerts(today),
            "month_start": start}


def next_event(user, now):
    """The first event not yet over with a confirmed guest `user` invited, and those guests:
    ({"id", "title", "starts_at", "people"}, [{"customer_id", "name", "companions",
    "status"}]) or (None, [])."""
    confirmed = Invitation.status.in_(("confirmed", "attended"))
    event = db.session.scalar(select(Event).where(
        Event.status.in_(COMING), Event.ends_at >= now, Event.id.in_(
            select(Invitation.event_id).where(Invitation.inviter_id == user.id, confirmed)))
        .order_by(Event.starts_at).limit(1))
    if event is None:
        return None, []
    guests = db.session.execute(select(Customer.id, Customer.name, Invitation.companions,
                                       Invitation.status).join(
        Customer, Customer.id == Invitation.customer_id).where(
        Invitation.event_id == event.id, Invitation.inviter_id == user.id, confirmed)
        .order_by(Customer.name_pinyin, Customer.id)).all()
    return ({"id": event.id, "title": event.title, "starts_at": event.starts_at,
             "people": sum(g.companions + 1 for g in guests)},
            [{"customer_id": g.id, "name": g.name, "companions": g.companions,
              "status": g.status} for g in guests])


def open_aftersales(user, today):
    """The unresolved tickets `user` may see, soonest due first (at most SHOWN), and the number
    of customers they concern: ([{"id", "number", "customer_id", "customer", "kind",
    "due_date", "overdue"}], customers)."""
    query = find_tickets(user, today=today)
    tickets = db.session.scalars(query.limit(SHOWN)).all()
    customers = db.session.scalar(select(func.count(func.distinct(
        query.order_by(None).subquery().c.customer_id))))
    return ([{"id": t.id, "number": t.number, "customer_id": t.customer_id,
              "customer": t.customer.name, "kind": t.kind_label, "due_date": t.due_date,
              "overdue": t.due_date < today} for t in tickets], customers or 0)


def marketer(user, today, now):
    """The marketer's home: the module's figures."""
    start = today.replace(day=1)
    mine = progress.marketers_progress(user, "month", start, [user], today)
    row = mine["rows"][0]
    worklist = today_list(user.id, today, upcoming_days=0, per_kind=SHOWN)
    tasks = [task for section in ("overdue", "today")
             for group, _count in worklist.sections.get(section, {}).values()
             for task in group][:SHOWN]
    event, guests = next_event(user, now)
    tickets, ticket_customers = open_aftersales(user, today)
    return {"figures": row["figures"], "pace": mine["pace"],
            "pace_line": progress.pace_line("month", row["figures"], mine["pace"]),
            "month_start": start,
            "tasks": [{"id": t.id, "customer_id": t.customer_id, "customer": t.customer.name,
                       "kind": t.kind_label, "title": t.title, "due_date": t.due_date,
                       "overdue": t.due_date < today} for t in tasks],
            "overdue": worklist.total("overdue"), "due_today": worklist.total("today"),
            "event": event, "guests": guests[:SHOWN], "guest_count": len(guests),
            "tickets": tickets, "ticket_customers": ticket_customers}


def gifts_needed(today):
    """[{"event_id", "title", "starts_at", "product", "needed", "free", "short"}] for the
    events of the next AHEAD_DAYS days with an attendance gift."""
    events = db.session.scalars(select(Event).where(
        Event.status.in_(COMING), Event.starts_at >= day_start(today),
        Event.starts_at < day_start(today + timedelta(days=AHEAD_DAYS)))
        .order_by(Event.starts_at)).all()
    if not events:
        return []
    guests = {event_id: (people or 0, companions or 0) for event_id, people, companions in
              db.session.execute(select(Invitation.event_id, func.count(),
                                        func.sum(Invitation.companions)).where(
                  Invitation.event_id.in_([e.id for e in events]),
                  Invitation.status == "confirmed").group_by(Invitation.event_id))}
    rows = []
    for event in events:
        rules = gifts.attendance_rules(event)
        if not rules:
            continue
        rule = rules[0]
        people, companions = guests.get(event.id, (0, 0))
        needed = rule.quantity * people + rule.companion_quantity * companions
        free = gifts.gift_left(event, rule.product)
        rows.append({"event_id": event.id, "title": event.title, "starts_at": event.starts_at,
                     "product": rule.product.name, "guests": people,
                     "companions": companions, "needed": needed, "free": free,
                     "short": max(needed - free, 0)})
    return rows


def warehouse(today):
    """The warehouse's home: the module's figures."""
    stale = custody.not_collected(today)
    names = dict(db.session.execute(select(Customer.id, Customer.name).where(
        Customer.id.in_([row[0] for row in stale[:SHOWN]]))).all()) if stale else {}
    return {"pickups": [{"customer_id": cid, "name": names.get(cid, ""), "last": last,
                         "held": held} for cid, last, held in stale[:SHOWN]],
            "pickup_count": len(stale), "stock": stock_alerts(today),
            "gifts": gifts_needed(today)}


def finance(today):
    """The finance clerk's home: the module's figures."""
    start, end = day_start(today), day_start(today + timedelta(days=1))
    methods = [{"method": method, "label": str(METHODS.get(method, method)),
                "received": received or 0, "refunded": refunded or 0, "net": net or 0}
               for method, received, refunded, net in db.session.execute(
                   select(Payment.method,
                          func.sum(case((Payment.amount > 0, Payment.amount), else_=0)),
                          func.sum(case((Payment.amount < 0, -Payment.amount), else_=0)),
                          func.sum(Payment.amount))
                   .where(Payment.at >= start, Payment.at < end)
                   .group_by(Payment.method).order_by(Payment.method))]
    days = [today - timedelta(days=n) for n in range(31, 0, -1)]
    bounds = [day_start(d) for d in days] + [start]
    covered = (select(CashClosePayment.payment_id)
               .join(CashClose, CashClose.id == CashClosePayment.close_id)
               .where(CashClose.reopened_at.is_(None)))
    day = _bucket(Payment.at, bounds).label("day")
    open_days = {}
    for index, cashier_id, entries in db.session.execute(
            select(day, Payment.cashier_id, func.count()).where(
                Payment.at >= bounds[0], Payment.at < bounds[-1],
                Payment.id.not_in(covered)).group_by("day", Payment.cashier_id)):
        open_days.setdefault(days[index], []).append((cashier_id, entries))
    names = dict(db.session.execute(select(User.id, User.display_name).where(User.id.in_(
        {c for people in open_days.values() for c, _n in people}))).all()) if open_days else {}
    owed = Order.balance_due < 0
    refunds = db.session.execute(select(Order.id, Order.number, Customer.name,
                                        -Order.balance_due).join(
        Customer, Customer.id == Order.customer_id).where(owed)
        .order_by(Order.created_at, Order.id).limit(SHOWN)).all()
    refund_count, refund_total = db.session.execute(select(
        func.count(), func.coalesce(func.sum(-Order.balance_due), 0)).where(owed)).one()
    old_count, old_total = db.session.execute(select(
        func.count(), func.coalesce(func.sum(Order.balance_due), 0)).where(
        Order.status.in_(OWING_STATUSES), Order.balance_due > 0,
        Order.due_date < today - timedelta(days=90))).one()
    return {"methods": methods, "today_net": sum(m["net"] for m in methods),
            "open_days": [{"day": d, "cashiers": [{"name": names.get(c, ""), "entries": n}
                                                  for c, n in people]}
                          for d, people in sorted(open_days.items(), reverse=True)],
            "refunds": [{"id": i, "number": number, "customer": name, "amount": amount}
                        for i, number, name, amount in refunds],
            "refund_count": refund_count, "refund_total": refund_total,
            "old_count": old_count, "old_total": old_total}

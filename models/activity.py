"""Arrivals, deals, sales and collections per company day (issue #27 §3): what the home pages'
cards and 12-week trends show, summed from the day figures the nightly run keeps
(models/daily.py) for the closed days it has done, and from the ledgers for the rest — today,
and any day a late write has changed since.

The figures, for a set of marketers (None: the whole company — every arrival, order and payment,
whoever is credited):
- arrivals: check-ins of guests the marketers invited (by the invitation's inviter);
- deals: the marketers' binding orders taken (open, and a large order once confirmed), by the
  day the order was taken; `taken` is their totals;
- sales: the deals' totals less the value of goods returned in the same days (on any of the
  marketers' orders, whenever taken);
- collections: money received on the marketers' orders (deposits, balance and full payments;
  a reversal of one of those takes it off, on the reversal's day).
These are the performance report's figures of the same name (reports/performance.py).
"""
from datetime import timedelta

from sqlalchemy import delete, func, insert, literal, select
from sqlalchemy.orm import aliased

from extensions import db
from models import daily
from models.base import among
from models.checkin import CheckIn
from models.clock import day_start
from models.daily import EVERYONE_ROW, FIGURES, NOBODY, DayFigures
from models.events import Invitation
from models.orders import Order, OrderReturn, Payment

#: Kinds of payment that are money received.
RECEIPTS = ("deposit", "balance", "full")
#: How many days back the nightly run keeps the figures: the 12 weeks of the trends and the
#: week before (a trend's first Monday is at most 83 days back).
KEPT_DAYS = 13 * 7


def _queries(since, until, ids):
    """The select of each figure over [since, until) (UTC): its marketer column and sums; for
    `ids` only those marketers' rows."""
    original = aliased(Payment)
    inviter = func.coalesce(Invitation.inviter_id, NOBODY)
    found = {
        "arrivals": select(inviter, func.count(CheckIn.id)).join(
            Invitation, Invitation.id == CheckIn.invitation_id).where(
            CheckIn.at >= since, CheckIn.at < until),
        "deals": select(Order.marketer_id, func.count(Order.id),
                        func.coalesce(func.sum(Order.total), 0)).where(
            Order.status == "open", Order.confirmation != "pending",
            Order.created_at >= since, Order.created_at < until),
        "returned": select(Order.marketer_id, func.coalesce(func.sum(OrderReturn.value), 0))
        .join(Order, Order.id == OrderReturn.order_id).where(
            OrderReturn.at >= since, OrderReturn.at < until),
        "received": select(Order.marketer_id, func.coalesce(func.sum(Payment.amount), 0))
        .join(Order, Order.id == Payment.order_id).where(
            Payment.kind.in_(RECEIPTS), Payment.at >= since, Payment.at < until),
        "reversed": select(Order.marketer_id, func.coalesce(func.sum(Payment.amount), 0))
        .join(original, original.id == Payment.reverses_id)
        .join(Order, Order.id == Payment.order_id).where(
            Payment.reverses_id > 0, original.kind.in_(RECEIPTS),
            Payment.at >= since, Payment.at < until)}
    if ids is not None:
        found["arrivals"] = found["arrivals"].where(among(Invitation.inviter_id, ids))
        found["deals"] = found["deals"].where(among(Order.marketer_id, ids))
        # The rows of the span first (their index by date), then their orders: `+ 0` keeps
        # SQLite from starting at every order of the marketers instead (a department's whole
        # history read to find one day's payments).
        for key in ("returned", "received", "reversed"):
            found[key] = found[key].where(among(Order.marketer_id + 0, ids))
    return found


def _company_money(since, until):
    """The money figures of _queries for the whole company: the same sums without their
    orders (every payment and return has one), read from the rows' date index alone — joined
    to the orders, PostgreSQL hashed all 3,000,000 of them to sum one day's payments (0.9 s)."""
    original = aliased(Payment)
    return {
        "returned": select(literal(NOBODY), func.coalesce(func.sum(OrderReturn.value), 0)).where(
            OrderReturn.at >= since, OrderReturn.at < until),
        "received": select(literal(NOBODY), func.coalesce(func.sum(Payment.amount), 0)).where(
            Payment.kind.in_(RECEIPTS), Payment.at >= since, Payment.at < until),
        "reversed": select(literal(NOBODY), func.coalesce(func.sum(Payment.amount), 0))
        .join(original, original.id == Payment.reverses_id).where(
            Payment.reverses_id > 0, original.kind.in_(RECEIPTS),
            Payment.at >= since, Payment.at < until)}


def _values(row_sets):
    """{marketer: [the six figures]} from the queries' rows."""
    values = {}
    offsets = {"arrivals": 0, "deals": 1, "returned": 3, "received": 4, "reversed": 5}
    for key, rows in row_sets.items():
        for marketer_id, *sums in rows:
            slot = values.setdefault(marketer_id, [0] * len(FIGURES))
            for n, value in enumerate(sums):
                slot[offsets[key] + n] += value or 0
    return values


def day_values(day):
    """{marketer id (NOBODY for none): [arrivals, deals, taken, returned, received, reversed]}
    of one company day, from the ledgers."""
    since, until = day_start(day), day_start(day + timedelta(days=1))
    return _values({key: db.session.execute(query.group_by(query.selected_columns[0])).all()
                    for key, query in _queries(since, until, None).items()})


def span_values(since_day, until_day, ids):
    """[the six figures] summed over the company days [since_day, until_day) for the marketers
    `ids` (None: everyone), from the ledgers."""
    since, until = day_start(since_day), day_start(until_day)
    total = [0] * len(FIGURES)
    offsets = {"arrivals": 0, "deals": 1, "returned": 3, "received": 4, "reversed": 5}
    queries = _queries(since, until, ids)
    if ids is None:
        queries.update(_company_money(since, until))
    for key, query in queries.items():
        row = db.session.execute(query.with_only_columns(
            *query.selected_columns[1:])).one()
        for n, value in enumerate(row):
            total[offsets[key] + n] += value or 0
    return total


def write_day(day, now=None):
    """Sum `day` from the ledgers into its day figures (a row per marketer and the company's
    row) and mark it done — unless a change came meanwhile (then it stays summed live).
    Returns the rows written, 0 when it stays not done."""
    version = daily.note_days([day])[day]
    values = day_values(day)
    everyone = [sum(column) for column in zip(*values.values())] if values \
        else [0] * len(FIGURES)
    rows = [{"day": day, "marketer_id": marketer_id, **dict(zip(FIGURES, figures))}
            for marketer_id, figures in [*values.items(), (EVERYONE_ROW, everyone)]]
    db.session.execute(delete(DayFigures).where(DayFigures.day == day))
    db.session.execute(insert(DayFigures), rows)
    return len(rows) if daily.mark_done(day, version, now) else 0


def fill_days(today, now=None):
    """The nightly run: every closed day of the last KEPT_DAYS not done yet is summed and kept.
    Returns the rows written."""
    first = today - timedelta(days=KEPT_DAYS)
    done = daily.done_days(first, today - timedelta(days=1))
    days = [first + timedelta(days=n) for n in range(KEPT_DAYS)]
    missing = [day for day in days if day not in done]
    daily.note_days(missing)  # each day's row, locked by this run from here to its commit
    return sum(write_day(day, now) for day in missing)


def activity(marketer_ids, today, weeks):
    """{"arrivals"|"deals"|"sales"|"collections": {"weeks": [weeks], "month", "today"}} for
    the marketers (None: the whole company), the module's definitions: the kept figures of the
    done days, the ledgers for the rest (today always). The weeks run Monday to Sunday, the
    last one this week so far; the month is the calendar month so far."""
    monday = today - timedelta(days=today.weekday())
    first = monday - timedelta(weeks=weeks - 1)
    month = today.replace(day=1)
    ids = None if marketer_ids is None else sorted(marketer_ids)
    done = daily.done_days(first, today - timedelta(days=1))
    sums = {"weeks": [[0] * len(FIGURES) for _ in range(weeks)],
            "month": [0] * len(FIGURES), "today": [0] * len(FIGURES)}

    def add(day, values):
        for bucket in (sums["weeks"][(day - first).days // 7],
                       *([sums["month"]] if day >= month else []),
                       *([sums["today"]] if day == today else [])):
            for n, value in enumerate(values):
                bucket[n] += value or 0

    if done:
        kept = select(DayFigures.day, *[func.sum(getattr(DayFigures, f)) for f in FIGURES]) \
            .where(DayFigures.day >= min(done), DayFigures.day <= max(done)) \
            .group_by(DayFigures.day)
        kept = kept.where(DayFigures.marketer_id == EVERYONE_ROW) if ids is None \
            else kept.where(among(DayFigures.marketer_id, ids))
        for day, *values in db.session.execute(kept):
            if day in done:
                add(day, values)
    # The other days, in runs that stay within one week, on one side of the month's start,
    # and today alone: one sum per run.
    run = []
    for n in range((today - first).days + 1):
        day = first + timedelta(days=n)
        if day in done:
            continue
        if run and ((day - first).days // 7 != (run[0] - first).days // 7
                    or (day >= month) != (run[0] >= month) or day == today
                    or day != run[-1] + timedelta(days=1)):
            add(run[0], span_values(run[0], run[-1] + timedelta(days=1), ids))
            run = []
        run.append(day)
    add(run[0], span_values(run[0], run[-1] + timedelta(days=1), ids))

    def figure(values, key):
        arrivals, deals, taken, returned, received, reversed_ = values
        return {"arrivals": arrivals, "deals": deals, "sales": taken - returned,
                "collections": received + reversed_}[key]
    return {key: {"weeks": [figure(week, key) for week in sums["weeks"]],
                  "month": figure(sums["month"], key), "today": figure(sums["today"], key)}
            for key in ("arrivals", "deals", "sales", "collections")}

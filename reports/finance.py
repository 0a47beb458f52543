"""Finance reports: arrears by age per department and marketer (as of today), money received and
paid back by method and day over a period, and the liabilities — goods held for customers (at
cost) and points outstanding (at the value finance sets per point).

Every order figure goes through models.orders.visible_orders (a department head sees their
department's orders; managers and finance all)."""
from datetime import timedelta

from flask_babel import gettext as _
from sqlalchemy import case, func, select
from sqlalchemy.orm import aliased

from extensions import db, reads_reports
from formatting import company_zone, local_day
from models.accounts import Department, User
from models.base import utcnow
from models.scoping import department_subtree
from reports import render_pdf

BUCKETS = ("not_due", "1_30", "31_60", "61_90", "over_90")


def _bucket(today):
    from models.orders import Order
    return case((Order.due_date.is_(None), "not_due"), (Order.due_date >= today, "not_due"),
                (Order.due_date >= today - timedelta(days=30), "1_30"),
                (Order.due_date >= today - timedelta(days=60), "31_60"),
                (Order.due_date >= today - timedelta(days=90), "61_90"), else_="over_90")


def ageing(params, today):
    """[{department, marketer, buckets: {code: fen}, total}] and the totals per bucket."""
    from models.orders import OWING_STATUSES, Order, visible_orders
    bucket = _bucket(today)
    orders = visible_orders(params.user).where(Order.status.in_(OWING_STATUSES),
                                               Order.balance_due > 0)
    if params.department is not None:
        orders = orders.where(Order.department_id.in_(department_subtree(params.department.id)))
    if params.marketer is not None:
        orders = orders.where(Order.marketer_id == params.marketer.id)
    inner = orders.with_only_columns(Order.department_id, Order.marketer_id,
                                     bucket.label("bucket"), Order.balance_due).subquery()
    names = dict(db.session.execute(select(User.id, User.display_name)).all())
    departments = dict(db.session.execute(select(Department.id, Department.name)).all())
    rows = {}
    for department_id, marketer_id, code, due in db.session.execute(
            select(inner.c.department_id, inner.c.marketer_id, inner.c.bucket,
                   func.sum(inner.c.balance_due))
            .group_by(inner.c.department_id, inner.c.marketer_id, inner.c.bucket)):
        row = rows.setdefault((department_id, marketer_id), {
            "department": departments.get(department_id, _("No department")),
            "marketer": names.get(marketer_id, ""), "marketer_id": marketer_id,
            "buckets": dict.fromkeys(BUCKETS, 0), "total": 0})
        row["buckets"][code] += due
        row["total"] += due
    ordered = sorted(rows.values(), key=lambda r: (r["department"], -r["total"]))
    totals = {code: sum(r["buckets"][code] for r in ordered) for code in BUCKETS}
    return ordered, totals, sum(totals.values())


def receipts(params):
    """Money in and out per local day and method over the period: ({day: {method: fen}},
    {method: fen}, refunds fen)."""
    from models.orders import Order, Payment, visible_orders
    orders = visible_orders(params.user)
    if params.department is not None:
        orders = orders.where(Order.department_id.in_(department_subtree(params.department.id)))
    if params.marketer is not None:
        orders = orders.where(Order.marketer_id == params.marketer.id)
    zone = company_zone()
    by_day, by_method, refunds = {}, {}, 0
    original = aliased(Payment)  # a reversal counts with the kind of the entry it reverses
    for at, method, kind, amount in db.session.execute(
            select(Payment.at, Payment.method, func.coalesce(original.kind, Payment.kind),
                   Payment.amount)
            .outerjoin(original, original.id == Payment.reverses_id).where(
                Payment.order_id.in_(orders.with_only_columns(Order.id)),
                Payment.at >= params.since, Payment.at < params.until)):
        if kind == "refund":
            refunds -= amount
            continue
        day = local_day(at, zone)
        by_day.setdefault(day, {})
        by_day[day][method] = by_day[day].get(method, 0) + amount
        by_method[method] = by_method.get(method, 0) + amount
    return dict(sorted(by_day.items())), by_method, refunds


@reads_reports
def gather(params):
    from models import custody, points
    from models.orders import AGEING, METHODS
    today = local_day(utcnow())
    rows, totals, total = ageing(params, today)
    by_day, by_method, refunds = receipts(params)
    held = custody.report_by_marketer(params.department.id if params.department else None) \
        if params.user.has_role("admin", "manager", "finance") or params.department else []
    liability = points.liability() if params.user.has_role("admin", "manager", "finance") \
        else None
    return {"title": _("Finance report"), "period": params.label, "today": today.isoformat(),
            "buckets": [(code, str(AGEING[code])) for code in BUCKETS],
            "ageing": rows, "ageing_totals": totals, "ageing_total": total,
            "methods": [(code, str(label)) for code, label in METHODS.items()],
            "receipts": [(day.isoformat(), values) for day, values in by_day.items()],
            "receipts_by_method": by_method, "received": sum(by_method.values()),
            "refunds": refunds,
            "custody": [{"marketer": name or _("Public pool"), "customers": customers,
                         "units": units, "value": value or 0}
                        for name, customers, units, value, _since in held],
            "custody_value": sum(value or 0 for *_rest, value, _since in held),
            "points": liability, "args": params.as_args()}


def build(data, *, printed_by):
    return render_pdf("print/finance.html", {**data, "printed_by": printed_by,
                                             "printed_at": utcnow()})

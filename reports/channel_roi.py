"""Channel ROI (渠道效果): per source channel (seed 003's 复合式营销: 电台讲座, 平面广告, 专卖店,
电话营销, 转介绍 …), what its campaigns cost in a period and what the customers it brought in
bought, beside the ROI of the events of the same period.

The period is taken in whole months — from the first day of its first month to the last day of
its last month — because campaign costs are entered per month. Money in fen; every figure is a
query over recorded facts:

- cost: the campaign costs entered for the channel for the period's months
  (models.customers.channel_costs), reversals taken off.
- acquired: customers registered in the period whose source channel is the channel (the
  channel on the customer record now).
- buyers: of those, the customers with a binding order taken in the period (binding: open, not
  a large order waiting for its second confirmation).
- sales: Σ total of the acquired customers' binding orders taken in the period, less the value
  of goods returned in the period on their binding orders (DESIGN §3 sales).
- cogs (cost of goods sold): the cost of goods sold of the period as its sales count it — the
  goods sold with the acquired customers' binding orders taken in the period, less their goods
  brought back in the period (models.orders.cogs.of_period, through cogs_by_customer: the one
  definition the profit report and the event ROI read).
- margin (gross margin): sales − cogs.
- roi: (margin − cost) / cost in percent to one decimal; None when nothing was spent. A
  channel that cost ¥5,000 and whose new customers bought ¥12,000 of goods costing ¥4,000
  shows (12,000 − 4,000 − 5,000) / 5,000 = +60.0 %.
Customers registered without a source channel are one row of their own (no cost, no ROI). The
totals add the rows up; the total ROI is that of the totals.

The events beside it: every event that started in the period with its headline figures from
reports/event_roi.py (sales, cost of goods, costs, ROI on sales).

Scope: the report covers the whole company, so only admins, managers and finance open it.
"""
from calendar import monthrange
from datetime import timedelta

from flask_babel import gettext as _
from sqlalchemy import and_, func, select

from extensions import db, reads_reports
from models.base import among, utcnow
from models.clock import day_start
from models.customers import Channel, Customer, channel_costs
from models.events import Event, visible_events
from models.orders import Order, OrderReturn, binding, cogs_by_customer
from reports import event_roi, render_pdf
from reports.event_roi import roi

#: The figures of a row, in the order the tables show them.
MONEY = ("cost", "sales", "cogs", "margin")
KEYS = ("cost", "acquired", "buyers", "sales", "cogs", "margin")
#: At most this many events are shown beside the channels.
EVENTS_SHOWN = 50


def labels():
    return {"cost": _("Campaign cost"), "acquired": _("Customers acquired"),
            "buyers": _("Of whom bought"), "sales": _("Sales"), "cogs": _("Cost of goods sold"),
            "margin": _("Gross margin"), "roi": _("ROI")}


def whole_months(params):
    """(first day, last day) of the months the period touches."""
    start = params.start.replace(day=1)
    end = params.end.replace(day=monthrange(params.end.year, params.end.month)[1])
    return start, end


def figures(start, end):
    """{channel id or None: {figure: value}} for the customers registered from `start` to
    `end` (days, company calendar), their orders and moves in that period."""
    since, until = day_start(start), day_start(end + timedelta(days=1))
    acquired = and_(Customer.created_at >= since, Customer.created_at < until)
    in_period = and_(Order.created_at >= since, Order.created_at < until)
    out = {}

    def add(rows, names):
        for row in rows:
            values = out.setdefault(row[0], dict.fromkeys(KEYS, 0))
            for name, value in zip(names, row[1:]):
                values[name] += int(value or 0)

    add(db.session.execute(select(Customer.channel_id, func.count(Customer.id))
                           .where(acquired).group_by(Customer.channel_id)), ("acquired",))
    add(db.session.execute(
        select(Customer.channel_id, func.count(func.distinct(Order.customer_id)),
               func.sum(Order.total))
        .join(Customer, Customer.id == Order.customer_id)
        .where(acquired, in_period, *binding()).group_by(Customer.channel_id)),
        ("buyers", "sales"))
    for channel_id, returned in db.session.execute(
            select(Customer.channel_id, func.sum(OrderReturn.value))
            .join(Order, Order.id == OrderReturn.order_id)
            .join(Customer, Customer.id == Order.customer_id)
            .where(acquired, OrderReturn.at >= since, OrderReturn.at < until, *binding())
            .group_by(Customer.channel_id)):
        out.setdefault(channel_id, dict.fromkeys(KEYS, 0))["sales"] -= int(returned or 0)
    new_customers = select(Customer.id).where(acquired)
    cogs = cogs_by_customer(new_customers, since=since, until=until)
    if cogs:
        channel_of = dict(db.session.execute(select(Customer.id, Customer.channel_id)
                                             .where(among(Customer.id, cogs))).all())
        for customer_id, amount in cogs.items():
            out.setdefault(channel_of[customer_id], dict.fromkeys(KEYS, 0))["cogs"] += amount
    costs = channel_costs(start, end)
    for channel_id, amount in costs.items():
        out.setdefault(channel_id, dict.fromkeys(KEYS, 0))["cost"] = amount
    for values in out.values():
        values["margin"] = values["sales"] - values["cogs"]
        values["roi"] = roi(values["margin"], values["cost"])
    return out


def _events(params, start, end):
    """The events that started in the period with their headline figures, newest first."""
    events = db.session.scalars(
        visible_events(params.user)
        .where(Event.starts_at >= day_start(start),
               Event.starts_at < day_start(end + timedelta(days=1)),
               Event.status != "cancelled")
        .order_by(Event.starts_at.desc(), Event.id.desc()).limit(EVENTS_SHOWN)).all()
    heads = event_roi.headlines(events)
    return [{"id": e.id, "title": e.title, "when": event_roi.when(e),
             "sales": heads[e.id]["revenue"], "cogs": heads[e.id]["cogs"],
             "cost": heads[e.id]["cost_total"], "margin": heads[e.id]["margin"],
             "roi": heads[e.id]["roi"]} for e in events]


@reads_reports
def gather(params):
    """The report's data (plain values) for the whole months of params' period."""
    start, end = whole_months(params)
    found = figures(start, end)
    channels = db.session.scalars(select(Channel).order_by(Channel.sort, Channel.name)).all()
    rows = []
    for channel in channels:
        values = found.get(channel.id)
        if values is None and not channel.is_active:
            continue  # a channel no longer offered, with nothing in the period
        rows.append({"id": channel.id, "name": channel.name,
                     **(values or {**dict.fromkeys(KEYS, 0), "roi": None})})
    if None in found:
        rows.append({"id": None, "name": _("No source channel"), **found[None]})
    total = {key: sum(row[key] for row in rows) for key in KEYS}
    total["roi"] = roi(total["margin"], total["cost"])
    return {"title": _("Channel ROI"), "period": f"{start.isoformat()} — {end.isoformat()}",
            "start": start.isoformat(), "end": end.isoformat(),
            "printed_by": params.user.display_name, "labels": labels(), "rows": rows,
            "total": total, "events": _events(params, start, end),
            "args": {"start": start.isoformat(), "end": end.isoformat()}}


def build(data):
    """The report as A4 PDF bytes."""
    return render_pdf("print/channel_roi.html", {**data, "printed_at": utcnow()})


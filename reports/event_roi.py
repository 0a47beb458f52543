"""Event ROI (会议效果): what one event brought in against what it cost, per marketer, beside the
last five events of its kind.

Every figure is a query over recorded facts (nothing is copied or cached), money in fen:

- invited: invitations of the event, walk-ins excluded (they were never invited), whatever
  became of them (declined ones included). Per marketer: by the invitation's inviter.
- confirmed: of those, invitations whose guest's last answer before the event was yes — the
  latest hand-made change (invited / confirmed / declined) recorded for the invitation is
  "confirmed". Checking in and closing the event are not answers: a guest who came without
  confirming is not counted, and a guest the closing marked no-show is counted only if they had
  confirmed. (So "confirmed" is not the invitation's status confirmed/attended/no-show: closing
  marks every unanswered invitation no-show.)
- arrived: check-ins at the event, walk-ins included (walk_ins says how many). Per marketer: by
  the inviter of the invitation checked in (a walk-in's inviter is the customer's owner).
- The event's deals: its open (not cancelled) orders that are binding (a large order waiting
  for its confirmation is not) and whose customer arrived (checked in, walk-ins included).
  Orders booked to the event for a customer who did not come are listed apart (other_orders,
  other_revenue: their value after returns) and counted nowhere else; pending large orders too
  (pending_orders, pending: their total).
- bought: distinct customers with a deal whose value after returns (total − returned value) is
  above zero. Per marketer: by the marketer credited with the order, so a customer whose orders
  are credited to two marketers counts once for each and once in the event's total.
- paid: of the buyers, those with nothing left to pay on their open orders at the event (every
  such order's balance due ≤ 0; per marketer, on that marketer's orders).
- revenue (sales): Σ (total − returned value) of the deals.
- collections: Σ paid of the deals: the payments ledger's net (receipts less refunds, with
  reversals), whenever the money came.
- cogs (cost of the goods sold): models.orders.cogs.of_orders over the deals (the one
  definition), whenever their goods moved: Σ quantity × the batch's unit cost of the stock
  moves of the deals that hand goods over — taken home (sale_issue) or put on a reserved
  custody shelf for the customer (custody_deposit) — and the goods left in a pooled warehouse's
  custody at the product's standard cost when sold, less moves reversed and goods brought back
  into free stock or returned while held (a return to scrap stays a cost). Gifts and goods
  redeemed with points are costs of their own below, not goods sold.
- arrears: Σ balance due of those orders where it is above zero (owed_back: what is owed back to
  customers on orders paid beyond their value after returns, shown only when not zero).
  revenue = collections + arrears − owed_back.
- costs: the event's cost lines by kind (every kind in models.events.COST_KINDS); gifts: the
  cost of the gifts issued at the event less those taken back (models.gifts.event_gift_cost);
  points: the cost of the goods redeemed with points at the event, reversed redemptions left
  out; messages (#28): the SMS and WeChat messages about the event (messages.event_id: its
  confirmations and the reminder the day before) that went out — sent or delivered, a failed or
  cancelled one cost nothing — messages_sent how many, messages their cost (Σ cost_fen: SMS
  parts × the price of one part when queued; WeChat is free). Total cost = the four together,
  so a reminder to 200 guests at 2 parts × 4 fen adds ¥16.00 to the cost ROI divides by.
- roi (on sales): (revenue − cogs − total cost) / total cost; roi_collected: (collections −
  cogs − total cost) / total cost — both in percent to one decimal, None when the event cost
  nothing. An event that sold ¥2,098 of goods costing ¥700 against ¥4,374 of costs shows
  (2,098 − 700 − 4,374) / 4,374 = −68.0 %.
- compared: the last five events of the same kind that started before this one (cancelled ones
  left out), with the same headline figures, and their average (ROI of the averages).

Scope: the event is loaded within the user's scope (reports.params); managers, admins and
finance see every marketer's row; a department head sees the rows of the marketers of their
department (and below), the others summed into one "other departments" row, so the rows still
add up to the event's totals. The rows behind each figure are listed within the user's scope.
"""
from flask_babel import gettext as _
from sqlalchemy import case, func, select
from sqlalchemy.orm import aliased

from extensions import db, reads_reports
from formatting import local_dt
from models import gifts
from models.accounts import User
from models.base import utcnow
from models.checkin import CheckIn
from models.events import (COST_KINDS, INVITATION_TRANSITIONS, KINDS, STATUSES, Event,
                           EventCost, Invitation, InvitationChange, visible_events)
from models.messages import Message
from models.orders import Order, cogs
from models.points import Redemption
from models.scoping import visible_users
from reports import render_pdf
from reports.charts import BLUES, bar_chart
from reports.params import ALL_FIGURES

#: The funnel, in order.
FUNNEL = ("invited", "confirmed", "arrived", "bought", "paid")
MONEY = ("revenue", "collections", "arrears", "cogs")
#: Figures every row carries (per marketer, per event).
ROW_KEYS = FUNNEL + ("walk_ins",) + MONEY + ("owed_back", "orders", "pending",
                                            "pending_orders", "other_orders", "other_revenue")
#: Invitation changes that are the guest's answer (check-in and closing are not).
ANSWERS = tuple(INVITATION_TRANSITIONS)
COMPARED = 5


def cost_labels():
    """The cost kinds as a cost report names them (the events area's labels name the kinds)."""
    return {"venue": _("Venue hire"), "meals": _("Meals"), "transport": _("Transport costs"),
            "staff": _("Staff costs"), "expert": _("Expert fee"),
            "printing": _("Printing costs"), "other": _("Other costs")}


def funnel_labels():
    return {"invited": _("Invited"), "confirmed": _("Confirmed"), "arrived": _("Arrived"),
            "bought": _("Bought"), "paid": _("Paid in full")}


def money_labels():
    return {"revenue": _("Sales"), "collections": _("Collections"), "arrears": _("Arrears"),
            "cogs": _("Cost of goods sold")}


def arrived(order=Order):
    """A clause: the order's customer checked in at the order's event."""
    return select(CheckIn.id).where(CheckIn.event_id == order.event_id,
                                    CheckIn.customer_id == order.customer_id).exists()


def deals(event_ids):
    """The clauses of an event's deals: open, binding, the customer arrived."""
    return (Order.status == "open", Order.event_id.in_(event_ids),
            Order.confirmation != "pending", arrived())


def _empty():
    return dict.fromkeys(ROW_KEYS, 0)


def _figures(event_ids, *, per_marketer):
    """{(event_id, marketer_id or None): {figure: value}} for the funnel and the money."""
    out = {}
    if not event_ids:
        return out

    def add(rows, names):
        for row in rows:
            key = (row[0], row[1] if per_marketer else None)
            values = out.setdefault(key, _empty())
            for name, value in zip(names, row[2 if per_marketer else 1:]):
                values[name] += int(value or 0)

    def keys(event_column, marketer_column):
        return [event_column, marketer_column] if per_marketer else [event_column]

    invited = ~Invitation.is_walk_in
    # The latest answer of each invitation of these events.
    latest = (select(InvitationChange.invitation_id, func.max(InvitationChange.id).label("last"))
              .join(Invitation, Invitation.id == InvitationChange.invitation_id)
              .where(Invitation.event_id.in_(event_ids), InvitationChange.to_status.in_(ANSWERS))
              .group_by(InvitationChange.invitation_id).subquery())
    answer = aliased(InvitationChange)
    columns = keys(Invitation.event_id, Invitation.inviter_id)
    add(db.session.execute(
        select(*columns, func.sum(case((invited, 1), else_=0)),
               func.sum(case((invited & (answer.to_status == "confirmed"), 1), else_=0)))
        .select_from(Invitation)
        .outerjoin(latest, latest.c.invitation_id == Invitation.id)
        .outerjoin(answer, answer.id == latest.c.last)
        .where(Invitation.event_id.in_(event_ids)).group_by(*columns)),
        ("invited", "confirmed"))
    add(db.session.execute(
        select(*columns, func.count(CheckIn.id),
               func.sum(case((Invitation.is_walk_in, 1), else_=0)))
        .select_from(CheckIn).join(Invitation, Invitation.id == CheckIn.invitation_id)
        .where(CheckIn.event_id.in_(event_ids)).group_by(*columns)),
        ("arrived", "walk_ins"))
    columns = keys(Order.event_id, Order.marketer_id)
    is_open = deals(event_ids)
    add(db.session.execute(
        select(*columns, func.sum(Order.total - Order.returned_value), func.sum(Order.paid),
               func.sum(case((Order.balance_due > 0, Order.balance_due), else_=0)),
               func.sum(case((Order.balance_due < 0, -Order.balance_due), else_=0)),
               func.count(Order.id))
        .where(*is_open).group_by(*columns)),
        ("revenue", "collections", "arrears", "owed_back", "orders"))
    add(db.session.execute(
        select(*columns, func.count(Order.id), func.sum(Order.total))
        .where(Order.status == "open", Order.event_id.in_(event_ids),
               Order.confirmation == "pending").group_by(*columns)),
        ("pending_orders", "pending"))
    add(db.session.execute(
        select(*columns, func.count(Order.id), func.sum(Order.total - Order.returned_value))
        .where(Order.status == "open", Order.event_id.in_(event_ids),
               Order.confirmation != "pending", ~arrived()).group_by(*columns)),
        ("other_orders", "other_revenue"))
    for query in cogs.of_orders(*columns, where=is_open):
        add(db.session.execute(query), ("cogs",))
    buyers = (select(*columns, Order.customer_id,
                     func.sum(Order.total - Order.returned_value).label("kept"),
                     func.max(Order.balance_due).label("due"))
              .where(*is_open).group_by(*columns, Order.customer_id).subquery())
    columns = [buyers.c.event_id] + ([buyers.c.marketer_id] if per_marketer else [])
    add(db.session.execute(
        select(*columns, func.count(), func.sum(case((buyers.c.due <= 0, 1), else_=0)))
        .where(buyers.c.kept > 0).group_by(*columns)),
        ("bought", "paid"))
    return out


def _costs(events):
    """{event_id: {"lines": [{key, label, amount}], "gifts", "points", "messages",
    "messages_sent", "total"}}."""
    ids = [e.id for e in events]
    lines = {}
    for event_id, kind, amount in db.session.execute(
            select(EventCost.event_id, EventCost.kind, func.sum(EventCost.amount_fen))
            .where(EventCost.event_id.in_(ids)).group_by(EventCost.event_id, EventCost.kind)):
        lines[(event_id, kind)] = int(amount)
    points = dict(db.session.execute(
        select(Redemption.event_id, func.sum(Redemption.cost))
        .where(Redemption.event_id.in_(ids), Redemption.reversed_at.is_(None))
        .group_by(Redemption.event_id)).all()) if ids else {}
    messages = {event_id: (sent, int(cost or 0)) for event_id, sent, cost in db.session.execute(
        select(Message.event_id, func.count(Message.id), func.sum(Message.cost_fen))
        .where(Message.event_id.in_(ids), Message.status.in_(("sent", "delivered")))
        .group_by(Message.event_id))} if ids else {}
    labels = cost_labels()
    out = {}
    for event in events:
        kinds = [{"key": kind, "label": str(labels.get(kind, label)),
                  "amount": lines.get((event.id, kind), 0)}
                 for kind, label in COST_KINDS.items()]
        # A kind no longer (or not yet) listed still costs money.
        kinds += [{"key": kind, "label": str(labels.get(kind, kind)), "amount": amount}
                  for (event_id, kind), amount in sorted(lines.items())
                  if event_id == event.id and kind not in COST_KINDS]
        gift_cost = int(gifts.event_gift_cost(event) or 0)
        points_cost = int(points.get(event.id) or 0)
        sent, message_cost = messages.get(event.id, (0, 0))
        out[event.id] = {"lines": kinds, "gifts": gift_cost, "points": points_cost,
                         "messages": message_cost, "messages_sent": sent,
                         "total": sum(k["amount"] for k in kinds) + gift_cost + points_cost
                         + message_cost}
    return out


def roi(gain, cost):
    """(gain − cost) / cost in percent, one decimal; None when nothing was spent. The gain is
    what the goods sold brought in less what they cost (revenue − cogs, or collections −
    cogs)."""
    if not cost:
        return None
    return round((gain - cost) * 100 / cost, 1)


def headlines(events):
    """{event_id: the headline figures} for a list of events: funnel, money, costs, ROI."""
    figures = _figures([e.id for e in events], per_marketer=False)
    costs = _costs(events)
    out = {}
    for event in events:
        row = figures.get((event.id, None), _empty())
        cost = costs[event.id]
        out[event.id] = {**row, "costs": cost["lines"], "gifts": cost["gifts"],
                         "points": cost["points"], "messages": cost["messages"],
                         "messages_sent": cost["messages_sent"], "cost_total": cost["total"],
                         "margin": row["revenue"] - row["cogs"],
                         "roi": roi(row["revenue"] - row["cogs"], cost["total"]),
                         "roi_collected": roi(row["collections"] - row["cogs"],
                                              cost["total"])}
    return out


def _event_facts(event):
    return {"id": event.id, "title": event.title, "kind": event.kind,
            "kind_label": str(KINDS.get(event.kind, event.kind)), "status": event.status,
            "status_label": str(STATUSES.get(event.status, event.status)),
            "venue": event.venue, "when": when(event)}


def when(event):
    """"2026-11-25 09:00–12:00" in the company's time zone."""
    start, end = local_dt(event.starts_at), local_dt(event.ends_at)
    return f"{start}–{end[11:]}" if start[:10] == end[:10] else f"{start} – {end}"


def _marketer_rows(event, user):
    """(rows the user may see, one row summing the others or None)."""
    figures = _figures([event.id], per_marketer=True)
    ids = [marketer_id for _event_id, marketer_id in figures]
    people = {u.id: u for u in db.session.scalars(select(User).where(User.id.in_(ids)))}
    if user.has_role(*ALL_FIGURES):
        mine = set(ids)
    else:
        mine = set(db.session.scalars(visible_users(user).where(User.id.in_(ids))
                                      .with_only_columns(User.id)))
    rows, others = [], None
    for (_event_id, marketer_id), values in figures.items():
        if marketer_id in mine:
            person = people[marketer_id]
            rows.append({"id": marketer_id, "name": person.display_name,
                         "department": person.department.name if person.department else "",
                         **values})
        else:
            others = others or {"id": None, "name": _("Other departments"), "department": "",
                                **_empty()}
            for key in ROW_KEYS:
                others[key] += values[key]
    rows.sort(key=lambda r: (-r["revenue"], -r["arrived"], -r["invited"], r["name"]))
    return rows, others


def _compared(event, user):
    return db.session.scalars(
        visible_events(user).where(Event.kind == event.kind, Event.id != event.id,
                                   Event.starts_at < event.starts_at,
                                   Event.status != "cancelled")
        .order_by(Event.starts_at.desc(), Event.id.desc()).limit(COMPARED)).all()


def _average(rows):
    if not rows:
        return None
    average = {key: round(sum(r[key] for r in rows) / len(rows), 1) for key in FUNNEL}
    for key in MONEY + ("cost_total",):
        average[key] = round(sum(r[key] for r in rows) / len(rows))
    average["roi"] = roi(average["revenue"] - average["cogs"], average["cost_total"])
    return average


@reads_reports
def gather(params):
    """The report's data (plain values) for params.event, as params.user may see it."""
    event, user = params.event, params.user
    compared = _compared(event, user)
    heads = headlines([event, *compared])
    total = heads[event.id]
    rows, others = _marketer_rows(event, user)
    labels = funnel_labels()
    steps = [{"key": key, "label": labels[key], "value": total[key]} for key in FUNNEL]
    comparison = [{**_event_facts(e), **{k: heads[e.id][k] for k in
                                         FUNNEL + MONEY + ("cost_total", "roi")}}
                  for e in compared]
    return {
        "title": _("Event ROI: %(title)s", title=event.title),
        "period": when(event),
        "printed_by": user.display_name,
        "event": _event_facts(event),
        "funnel_labels": labels,
        "money_labels": money_labels(),
        "steps": steps,
        "total": total,
        "rows": rows,
        "others": others,
        "compared": comparison,
        "compared_average": _average(comparison),
        "chart": funnel_svg(steps),
    }


def build(data):
    """The report as A4 PDF bytes."""
    return render_pdf("print/event_roi.html", {**data, "printed_at": utcnow()})


def funnel_svg(steps, width=520):
    """A horizontal bar chart of the funnel as SVG markup (no script; text escaped)."""
    return bar_chart(steps, width=width, css_class="funnel-chart", title=_("Funnel"),
                     colours=BLUES)


# --- Lists and the rows behind the figures ----------------------------------------------------

def events_query(user, *, kind="", status="", since=None, until=None):
    """Events the user may see for the report's list page, newest first."""
    query = visible_events(user).order_by(Event.starts_at.desc(), Event.id.desc())
    if kind in KINDS:
        query = query.where(Event.kind == kind)
    if status in STATUSES:
        query = query.where(Event.status == status)
    if since is not None:
        query = query.where(Event.starts_at >= since)
    if until is not None:
        query = query.where(Event.starts_at < until)
    return query


ORDER_ROWS = ("bought", "paid", "orders", "arrears", "pending", "other")
GUEST_ROWS = ("invited", "confirmed", "arrived", "walk_ins")


def order_rows(event, visible, *, what, marketer_id=None):
    """The open orders of `event` behind a figure, within `visible` (a select of Order the
    user may see): bought — the buyers' orders; paid — the orders of buyers with nothing
    left to pay; orders — the deals (revenue, collections, cogs); arrears — those with money
    due; pending — large orders waiting for their confirmation; other — orders of customers
    who did not come."""
    if what in ("pending", "other"):
        query = visible.where(Order.event_id == event.id, Order.status == "open",
                              Order.confirmation == "pending" if what == "pending" else
                              (Order.confirmation != "pending") & ~arrived())
        if marketer_id is not None:
            query = query.where(Order.marketer_id == marketer_id)
        return db.session.scalars(query.order_by(Order.created_at, Order.id)).all()
    query = visible.where(*deals([event.id]))
    group = [Order.customer_id]
    if marketer_id is not None:
        query = query.where(Order.marketer_id == marketer_id)
        group.append(Order.marketer_id)
    if what in ("bought", "paid"):
        # The same customers the figure counts (over all their orders at the event, not only
        # the ones the user may see), then their orders the user may see.
        buyers = select(Order.customer_id).where(
            *deals([event.id]),
            *([Order.marketer_id == marketer_id] if marketer_id is not None else [])
        ).group_by(*group).having(func.sum(Order.total - Order.returned_value) > 0)
        if what == "paid":
            buyers = buyers.having(func.max(Order.balance_due) <= 0)
        query = query.where(Order.customer_id.in_(buyers))
    elif what == "arrears":
        query = query.where(Order.balance_due > 0)
    return db.session.scalars(query.order_by(Order.created_at, Order.id)).all()


def guest_rows(event, visible, *, what, marketer_id=None):
    """[(invitation, check-in or None)] of `event` behind a funnel figure, within `visible` (a
    select of Invitation the user may see)."""
    query = visible.add_columns(CheckIn).outerjoin(CheckIn, CheckIn.invitation_id ==
                                                   Invitation.id)
    if marketer_id is not None:
        query = query.where(Invitation.inviter_id == marketer_id)
    if what == "invited":
        query = query.where(~Invitation.is_walk_in)
    elif what == "confirmed":
        latest = (select(func.max(InvitationChange.id))
                  .where(InvitationChange.invitation_id == Invitation.id,
                         InvitationChange.to_status.in_(ANSWERS))
                  .correlate(Invitation).scalar_subquery())
        answer = aliased(InvitationChange)
        query = query.join(answer, answer.id == latest).where(
            ~Invitation.is_walk_in, answer.to_status == "confirmed")
    elif what == "arrived":
        query = query.where(CheckIn.id.is_not(None))
    elif what == "walk_ins":
        query = query.where(CheckIn.id.is_not(None), Invitation.is_walk_in)
    return db.session.execute(query.order_by(Invitation.inviter_id, Invitation.id)).all()


def redemption_rows(event, visible_customer_ids):
    """The redemptions made at `event` by customers the user may see, newest first."""
    return db.session.scalars(select(Redemption).where(
        Redemption.event_id == event.id, Redemption.customer_id.in_(visible_customer_ids))
        .order_by(Redemption.at.desc(), Redemption.id.desc())).all()

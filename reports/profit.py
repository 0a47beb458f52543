"""Profit report (利润报表): what the goods sold in a period brought in against what they cost, per
product, per event, per marketer and per department, with the cost of gifts and of points.

Every figure is a query over recorded facts (nothing is copied or cached), money in fen; the
period is [start, end] in the company's time zone (reports.params). The orders counted are
those "binding" — open (not cancelled), and a large order once confirmed (a pending one counts
nowhere) — as the performance report counts them (DESIGN §3, README "报表"):

- sales (销售额): Σ the amounts of the lines (quantity × unit price − the line's discount; a
  package's contents are lines of their own, priced as the package priced them) of the orders
  taken in the period, less the value of goods returned in the period (order returns dated in
  it, whenever the order was taken). For a marketer, a department or the company this is the
  performance report's sales. A cancelled order counts nowhere, nor do the returns of one.
- units (per product): Σ the quantities of those lines less the quantities returned in the
  period.
- cogs (销售成本): models.orders.cogs.of_period, the one definition — Σ quantity × the
  batch's unit cost of the stock moves that handed over the goods of the orders taken in the
  period (taken home, sale_issue, or put on a reserved custody shelf for the customer,
  custody_deposit; whenever they moved — a large order's goods leave at its confirmation), less
  those moves' reversals; plus the goods of those orders left in a pooled warehouse's custody
  at the product's standard cost when sold (nothing moves until they are collected); less the
  cost of goods of open orders brought back in the period (a customer return or goods taken
  off the custody shelf into free stock; goods returned while held in pooled custody, at the
  cost they counted at); a return to scrap stays a cost. A pickup from custody costs nothing
  more: the goods counted when they were sold. Per product: that product's goods.
- margin (毛利) = sales − cogs; margin_pct (毛利率) = margin ÷ sales in percent to one decimal
  (None when there were no sales, or the period's returns outweighed them).
- gifts (赠品成本): the cost of gifts issued in the period less those taken back in it — per
  marketer charged with the gift (GiftIssue.marketer_id: the order's marketer, else the
  customer's owner), per event the gift was given at; as the performance report's gift cost.
- points (积分成本): the cost of the goods redeemed with points in the period (reversed
  redemptions left out) — per marketer owning the redeeming customer now, per event it was
  redeemed at; as the performance report's points cost.
- net (扣除赠品与积分后的毛利) = margin − gifts − points. (Not an event's ROI: an event's venue,
  meals and other costs are in the event ROI report, which counts only the deals of guests who
  came.)

The breakdowns: per product (units, sales, cogs, margin); per event the orders were booked to
(orders made elsewhere — the shop, the phone — in one row, "not at an event"); per marketer
credited with the order; per department the order was made in (Order.department_id: the
marketer's department when the deal was made). Gifts and points are charged to a department by
the department its marketer is in now. Every breakdown adds up to the totals: a row for what has
no event, marketer or department is shown when there is one.

Scope (reports.params): managers, admins and finance see every order; a department head the
orders of their department and below (and the gifts and points of its marketers); a marketer
only their own. The department, marketer and event filters narrow that further. The records
behind each counted figure (rows_behind) are read with the same clauses.
"""
from flask import url_for
from flask_babel import gettext as _, lazy_gettext as _l
from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import aliased

from extensions import db, reads_reports
from formatting import local_day
from models.accounts import Department, User
from models.base import utcnow
from models.customers import Customer
from models.events import Event
from models.gifts import GiftIssue
from models.inventory import REASONS, Product
from models.orders import Order, OrderLine, OrderReturn, cogs
from models.points import Redemption
from models.scoping import department_subtree, scope_clause
from reports import render_pdf

#: What the report breaks the figures down by, and the figures each breakdown shows.
BREAKDOWNS = ("product", "event", "marketer", "department")
COUNTED = ("units", "sales", "cogs", "gifts", "points")
SHOWN = {"product": ("units", "sales", "cogs", "margin", "margin_pct"),
         "event": ("sales", "cogs", "margin", "margin_pct", "gifts", "points", "net"),
         "marketer": ("sales", "cogs", "margin", "margin_pct", "gifts", "points", "net"),
         "department": ("sales", "cogs", "margin", "margin_pct", "gifts", "points", "net")}
#: Figures whose records can be listed (the others are worked out from them).
LISTED = {"product": ("units", "sales", "cogs"), "event": ("sales", "cogs", "gifts", "points"),
          "marketer": ("sales", "cogs", "gifts", "points"),
          "department": ("sales", "cogs", "gifts", "points"),
          "all": ("sales", "cogs", "gifts", "points")}
MONEY = ("sales", "cogs", "margin", "gifts", "points", "net")
#: At most this many records behind a figure are listed.
MAX_ROWS = 500


def labels():
    return {"units": _("Units sold"), "sales": _("Sales"), "cogs": _("Cost of goods sold"),
            "margin": _("Gross margin"), "margin_pct": _("Margin %"), "gifts": _("Gift cost"),
            "points": _("Points cost"), "net": _("Margin after gifts and points")}


HEADINGS = {"product": _l("By product"), "event": _l("By event"),
            "marketer": _l("By marketer"), "department": _l("By department")}
COLUMNS = {"product": _l("Product"), "event": _l("Event"), "marketer": _l("Marketer"),
           "department": _l("Department")}


def _is(column, key):
    return column.is_(None) if key is None else column == key


class Scope:
    """The clauses a report of `params` reads with: on orders, on the marketers charged with
    gifts and points (aliased users), each limited to what params.user may see and to the
    filters."""

    def __init__(self, params):
        self.params = params
        user = params.user
        self.orders = [Order.status == "open", Order.confirmation != "pending",
                       scope_clause(user, owner=Order.marketer_id,
                                    department=Order.department_id)]
        self.charged = aliased(User)  # the marketer charged with a gift or points
        self.people = [scope_clause(user, owner=self.charged.id,
                                    department=self.charged.department_id)]
        if params.department is not None:
            tree = department_subtree(params.department.id)
            self.orders.append(Order.department_id.in_(tree))
            self.people.append(self.charged.department_id.in_(tree))
        if params.marketer is not None:
            self.orders.append(Order.marketer_id == params.marketer.id)
            self.people.append(self.charged.id == params.marketer.id)
        self.event_id = params.event.id if params.event is not None else None

    def period(self, column):
        return and_(column >= self.params.since, column < self.params.until)

    def events(self, column):
        return [column == self.event_id] if self.event_id is not None else []

    def taken(self):
        """Clauses on Order: the orders counted, taken in the period."""
        return [*self.orders, *self.events(Order.event_id), self.period(Order.created_at)]

    def returned(self):
        """Clauses on OrderReturn and Order: the goods of counted orders returned in the
        period."""
        return [*self.orders, *self.events(Order.event_id), self.period(OrderReturn.at)]

    def gifts(self):
        """(the select's FROM, its clauses) of the gift issues of the period in scope."""
        charged = self.charged
        query = select(GiftIssue).outerjoin(charged, charged.id == GiftIssue.marketer_id)
        return query, [*self.people, *self.events(GiftIssue.event_id), self.period(GiftIssue.at)]

    def points(self):
        """(the select's FROM, its clauses) of the redemptions of the period in scope."""
        charged = self.charged
        query = (select(Redemption).join(Customer, Customer.id == Redemption.customer_id)
                 .outerjoin(charged, charged.id == Customer.owner_id))
        return query, [*self.people, *self.events(Redemption.event_id),
                       Redemption.reversed_at.is_(None), self.period(Redemption.at)]


def _empty():
    return dict.fromkeys(COUNTED, 0)


def figures(params):
    """{"total": {figure: value}, breakdown: {id or None: {figure: value}}} for the period."""
    scope = Scope(params)
    out = {"total": _empty(), **{by: {} for by in BREAKDOWNS}}
    #: The breakdowns each query's rows begin with, in its columns' order.
    by_order = ("marketer", "department", "event")
    with_product = by_order + ("product",)

    def add(rows, breakdowns, names, sign=1):
        """Add rows (the keys of `breakdowns`, then a value for each of `names`) to the total
        and to the rows of each breakdown. (Tens of thousands of rows for a month of a big
        company: kept to plain loops.)"""
        tables, total, n = [out[by] for by in breakdowns], out["total"], len(breakdowns)
        for row in rows:
            values = [(name, sign * int(value or 0)) for name, value in zip(names, row[n:])]
            for table, key in zip(tables, row[:n]):
                target = table.get(key)
                if target is None:
                    target = table[key] = _empty()
                for name, value in values:
                    target[name] += value
            for name, value in values:
                total[name] += value

    order_keys = (Order.marketer_id, Order.department_id, Order.event_id)
    amount = OrderLine.quantity * OrderLine.unit_price - OrderLine.discount
    add(db.session.execute(
        select(*order_keys, OrderLine.product_id, func.sum(OrderLine.quantity),
               func.sum(amount))
        .join(Order, Order.id == OrderLine.order_id).where(*scope.taken())
        .group_by(*order_keys, OrderLine.product_id)), with_product, ("units", "sales"))
    add(db.session.execute(
        select(*order_keys, OrderLine.product_id, func.sum(OrderReturn.quantity),
               func.sum(OrderReturn.value))
        .join(OrderLine, OrderLine.id == OrderReturn.line_id)
        .join(Order, Order.id == OrderReturn.order_id).where(*scope.returned())
        .group_by(*order_keys, OrderLine.product_id)), with_product, ("units", "sales"),
        sign=-1)
    for query in cogs.of_period(*order_keys, where=(*scope.orders, *scope.events(Order.event_id)),
                                since=params.since, until=params.until, by_product=True):
        add(db.session.execute(query), with_product, ("cogs",))
    signed = case((GiftIssue.reverses_id.is_(None), GiftIssue.cost), else_=-GiftIssue.cost)
    query, where = scope.gifts()
    columns = (GiftIssue.marketer_id, scope.charged.department_id, GiftIssue.event_id)
    add(db.session.execute(query.with_only_columns(*columns, func.sum(signed))
                           .where(*where).group_by(*columns)), by_order, ("gifts",))
    query, where = scope.points()
    columns = (Customer.owner_id, scope.charged.department_id, Redemption.event_id)
    add(db.session.execute(query.with_only_columns(*columns, func.sum(Redemption.cost))
                           .where(*where).group_by(*columns)), by_order, ("points",))
    return out


def with_margins(values):
    """The figures of a row with margin, margin % and net worked out."""
    row = dict(values)
    row["margin"] = row["sales"] - row["cogs"]
    row["margin_pct"] = round(row["margin"] * 100 / row["sales"], 1) if row["sales"] > 0 \
        else None
    row["net"] = row["margin"] - row["gifts"] - row["points"]
    return row


def _names(by, ids):
    """{id: {"name", and what else a row shows}} of the rows of a breakdown."""
    ids = [i for i in ids if i is not None]
    if not ids:
        return {}
    if by == "product":
        return {p.id: {"name": p.name, "detail": f"{p.sku} · {p.unit}"}
                for p in db.session.scalars(select(Product).where(Product.id.in_(ids)))}
    if by == "event":
        return {e.id: {"name": e.title, "detail": str(local_day(e.starts_at))}
                for e in db.session.scalars(select(Event).where(Event.id.in_(ids)))}
    if by == "marketer":
        departments = dict(db.session.execute(select(Department.id, Department.name)).all())
        return {u.id: {"name": u.display_name,
                       "detail": departments.get(u.department_id, "")}
                for u in db.session.scalars(select(User).where(User.id.in_(ids)))}
    return {d.id: {"name": d.name, "detail": ""}
            for d in db.session.scalars(select(Department).where(Department.id.in_(ids)))}


def _nothing_label(by):
    return {"product": _("No product"), "event": _("Not at an event"),
            "marketer": _("No marketer"), "department": _("No department")}[by]


def _rows(by, values):
    names = _names(by, values)
    rows = []
    for key, counted in values.items():
        if not any(counted.values()):
            continue
        name = names.get(key) or {"name": _nothing_label(by), "detail": ""}
        rows.append({"id": key, **name, **with_margins(counted)})
    # By sales, the row of what has no event (marketer, department) last.
    rows.sort(key=lambda r: (r["id"] is None, -r["sales"], -r["cogs"], r["name"]))
    return rows


@reads_reports
def gather(params):
    """The report's data (plain values) for the period, as params.user may see it."""
    found = figures(params)
    scope = (params.marketer.display_name if params.marketer else
             params.department.name if params.department else _("All I may see"))
    if params.event is not None:
        scope = f"{scope} · {params.event.title}"
    return {"title": _("Profit report"), "period": params.label, "scope": scope,
            "labels": labels(), "total": with_margins(found["total"]),
            "tables": [{"by": by, "heading": str(HEADINGS[by]), "column": str(COLUMNS[by]),
                        "figures": SHOWN[by],
                        "listed": LISTED[by], "rows": _rows(by, found[by])}
                       for by in BREAKDOWNS],
            "money": MONEY, "args": params.as_args()}


def build(data, *, printed_by):
    """The report as A4 PDF bytes."""
    return render_pdf("print/profit.html", {**data, "printed_by": printed_by,
                                            "printed_at": utcnow()})


# --- The records behind a figure ----------------------------------------------------------

def rows_behind(params, figure, by, key):
    """The records a figure counts: (rows [(label, value, money, url or None)], whether more
    than MAX_ROWS were found — only the first MAX_ROWS are listed). `by` is a breakdown or
    "all" (the totals); `key` the row's id, None for the row of what has none. Their values add
    up to the figure."""
    scope = Scope(params)
    if figure in ("sales", "units"):
        found = _sales_rows(scope, by, key, units=figure == "units")
    elif figure == "cogs":
        found = _cogs_rows(scope, by, key)
    elif figure == "gifts":
        found = _gift_rows(scope, by, key)
    else:
        found = _points_rows(scope, by, key)
    return found[:MAX_ROWS], len(found) > MAX_ROWS


def _order_clause(by, key, product_column):
    column = {"product": product_column, "event": Order.event_id,
              "marketer": Order.marketer_id, "department": Order.department_id}.get(by)
    return [] if column is None else [_is(column, key)]


def _order_url(order_id):
    return url_for("orders.show", order_id=order_id)


def _sales_rows(scope, by, key, *, units):
    rows = []
    if by == "product":
        lines = db.session.execute(
            select(OrderLine, Order).join(Order, Order.id == OrderLine.order_id)
            .where(*scope.taken(), *_order_clause(by, key, OrderLine.product_id))
            .order_by(Order.created_at.desc(), Order.id.desc(), OrderLine.id)
            .limit(MAX_ROWS + 1))
        for line, order in lines:
            package = f" · {line.package.name}" if line.package_id else ""
            label = f"{order.number} · {order.customer.name} · {line.product.name} × " \
                    f"{line.quantity}{package}"
            rows.append((label, line.quantity if units else line.amount, not units,
                         _order_url(order.id)))
    else:
        orders = db.session.scalars(
            select(Order).where(*scope.taken(), *_order_clause(by, key, None))
            .order_by(Order.created_at.desc(), Order.id.desc()).limit(MAX_ROWS + 1))
        rows = [(f"{o.number} · {o.customer.name} · {local_day(o.created_at)}", o.total, True,
                 _order_url(o.id)) for o in orders]
    returns = db.session.execute(
        select(OrderReturn, Order).join(OrderLine, OrderLine.id == OrderReturn.line_id)
        .join(Order, Order.id == OrderReturn.order_id)
        .where(*scope.returned(), *_order_clause(by, key, OrderLine.product_id))
        .order_by(OrderReturn.at.desc(), OrderReturn.id.desc()).limit(MAX_ROWS + 1))
    for returned, order in returns:
        label = _("%(number)s · returned %(day)s · %(product)s × %(n)s", number=order.number,
                  day=local_day(returned.at), product=returned.line.product.name,
                  n=returned.quantity)
        rows.append((label, -returned.quantity if units else -returned.value, not units,
                     _order_url(order.id)))
    return rows


def _cogs_rows(scope, by, key):
    where, products = [*scope.orders, *scope.events(Order.event_id)], None
    if by == "product":
        products = [key]
    else:
        where += _order_clause(by, key, None)
    found = []
    for query in cogs.of_period(Order, where=where, since=scope.params.since,
                                until=scope.params.until, products=products, records=True):
        at = query.selected_columns.at
        found += db.session.execute(query.order_by(at.desc()).limit(MAX_ROWS + 1)).all()
    names = dict(db.session.execute(select(Product.id, Product.name).where(
        Product.id.in_({row.product_id for row in found}))).all()) if found else {}
    kinds = {cogs.PROMISED: _("Left in custody (pooled, at standard cost)"),
             cogs.PROMISE_RETURNED: _("Returned while held in custody (pooled)")}
    rows = []
    for order, product_id, quantity, kind, reversal, at, cost in found:
        reason = str(kinds.get(kind) or REASONS.get(kind, kind))
        if reversal:
            reason = _("%(reason)s (reversed)", reason=reason)
        rows.append((f"{order.number} · {names.get(product_id, '—')} × {quantity} · {reason} · "
                     f"{local_day(at)}", int(cost or 0), True, _order_url(order.id)))
    return rows


def _charged_clause(scope, by, key, event_column, marketer_column):
    column = {"event": event_column, "marketer": marketer_column,
              "department": scope.charged.department_id}.get(by)
    return [] if column is None else [_is(column, key)]


def _gift_rows(scope, by, key):
    query, where = scope.gifts()
    found = db.session.scalars(
        query.where(*where, *_charged_clause(scope, by, key, GiftIssue.event_id,
                                             GiftIssue.marketer_id))
        .order_by(GiftIssue.at.desc(), GiftIssue.id.desc()).limit(MAX_ROWS + 1))
    return [(f"{g.customer.name} · {g.product.name} × {g.quantity} · {local_day(g.at)}"
             + (f" · {_('taken back')}" if g.reverses_id else ""), g.signed_cost, True, None)
            for g in found]


def _points_rows(scope, by, key):
    query, where = scope.points()
    found = db.session.scalars(
        query.where(*where, *_charged_clause(scope, by, key, Redemption.event_id,
                                             Customer.owner_id))
        .order_by(Redemption.at.desc(), Redemption.id.desc()).limit(MAX_ROWS + 1))
    return [(f"{r.number} · {r.customer.name} · {local_day(r.at)}", r.cost, True,
             url_for("points.redemption", redemption_id=r.id)) for r in found]


def row_name(by, key):
    """The name of one row of a breakdown (for the heading of its records)."""
    if by == "all":
        return _("Total")
    return (_names(by, [key]).get(key) or {"name": _nothing_label(by)})["name"]


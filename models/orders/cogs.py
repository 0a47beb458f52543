"""The cost of goods sold (销售成本, DESIGN §3 "Figures") of orders, defined once: every figure
that counts it reads it here — the profit report and the event ROI (reports/profit.py,
reports/event_roi.py), the channel ROI and a customer's lifetime figures (models/orders/figures.py).

It is what the goods cost when they were sold, read from the ledgers, never from a product's
price today. Per order (binding orders only: the callers choose them):

- goods that moved — taken home, or put on a reserved warehouse's custody shelf for the
  customer: Σ quantity × unit cost (the batch's cost, written on the move) of the order's stock
  moves (document "orders") that
  - hand the goods over: sale_issue, custody_deposit — +cost;
  - reverse such a move (红冲: the same reason with reverses_id set) — −cost;
  - bring goods back into free stock: a customer return (customer_return, into the batch it
    names, at that batch's cost) or goods taken off the custody shelf (custody_return) — −cost.
    Goods brought back to scrap stay a cost.
- goods left in a pooled warehouse's custody (#25 §7): nothing moves and no batch is set aside
  when they are sold — the custody ledger holds a promise and the goods stay in ordinary stock.
  They count at the product's standard cost when the order was handed over (taken, or at a
  large order's confirmation), written on the line then (OrderLine.held_unit_cost), as goods a
  pooled redemption leaves in custody are valued: Σ held × held_unit_cost — less the units
  returned while still held (OrderReturn.from_held × the same cost: they never left stock,
  whatever the return's disposition).

A pickup from custody costs nothing more in either mode: the goods counted when they were sold.
(A pooled pickup's stock move — custody_pickup, under the pickup slip — issues a batch at its own
cost: the stock's value falls by that; the cost of goods sold keeps the standard cost counted at
the sale, so that a period's cost stays with its sales however late the goods are collected.)
The same deal counts the same in both modes when its goods were received at the standard cost.
Gifts and goods redeemed with points are not goods sold: they have documents of their own and
are costs of their own in the reports.

Dated for a period (of_period) as the period's sales are: the goods sold with the orders taken
in it (whenever they moved — a large order's leave at its confirmation), and the goods brought
back in it (moves and returns dated in it), whenever their order was taken.

Each function returns selects, to be executed and added up: summed per the Order columns given
(and per product with by_product=True), or with records=True one row per move, promise or
return — the columns given, then product_id, quantity, kind (the move's reason, PROMISED or
PROMISE_RETURNED), reversal (whether a move reverses another), at and cost — whose costs add up
to the sum.
"""
from sqlalchemy import case, func, literal, select

from models.inventory import Location, StockMove
from models.orders.tables import Order, OrderLine, OrderReturn

#: Stock moves that hand an order's goods to the customer (or to the custody shelf for them),
#: and those that bring them back.
SOLD, BROUGHT_BACK = ("sale_issue", "custody_deposit"), ("customer_return", "custody_return")
#: The stock moves of orders: the document a move names.
DOCUMENT = "orders"
#: The kinds of the records of pooled custody: goods promised with a sale, returned still held.
PROMISED, PROMISE_RETURNED = "custody_promise", "custody_promise_return"


def signed_cost():
    """The cost of goods sold a stock move adds (fen; negative when it takes cost off)."""
    into_stock = StockMove.to_location_id.in_(select(Location.id).where(Location.kind == "stock"))
    sign = case((StockMove.reason.in_(SOLD) & StockMove.reverses_id.is_(None), 1),
                (StockMove.reason.in_(SOLD), -1),
                (StockMove.reason.in_(BROUGHT_BACK) & into_stock, -1), else_=0)
    return sign * StockMove.quantity * StockMove.unit_cost


def _finish(query, columns, product, cost, *, by_product, records, quantity, kind, reversal,
            at):
    """The select `query` (its FROM and WHERE set) with its columns: summed per `columns` (and
    the product), or one row per record."""
    if records:
        return query.with_only_columns(
            *columns, product.label("product_id"), quantity.label("quantity"),
            kind.label("kind"), reversal.label("reversal"), at.label("at"), cost.label("cost"))
    keys = (*columns, product.label("product_id")) if by_product else columns
    query = query.with_only_columns(*keys, func.sum(cost).label("cost"))
    return query.group_by(*keys) if keys else query


def _moves(columns, *, orders=None, where=(), reasons, products, by_product, records):
    """The stock moves of orders of `reasons`: those of the orders the clauses `orders` choose,
    or (orders=None) of any order, limited by `where` (clauses on StockMove and the joined
    Order). Given `orders`, the moves are found order by order through the document index:
    joined plainly, SQLite walks every move of every order (the index's first column)."""
    query = (select(StockMove.id).select_from(StockMove)
             .join(Order, Order.id == StockMove.document_id)
             .where(StockMove.document_type == DOCUMENT, StockMove.reason.in_(reasons), *where))
    if orders is not None:
        query = query.where(StockMove.document_id.in_(select(Order.id).where(*orders)))
    if products is not None:
        query = query.where(StockMove.product_id.in_(products))
    return _finish(query, columns, StockMove.product_id, signed_cost(), by_product=by_product,
                   records=records, quantity=StockMove.quantity, kind=StockMove.reason,
                   reversal=StockMove.reverses_id.is_not(None), at=StockMove.at)


def _promised(columns, *, where, products, by_product, records):
    """The goods of the orders `where` chooses left in a pooled warehouse's custody."""
    query = (select(OrderLine.id).select_from(OrderLine)
             .join(Order, Order.id == OrderLine.order_id)
             .where(OrderLine.held_unit_cost.is_not(None), OrderLine.held > 0, *where))
    if products is not None:
        query = query.where(OrderLine.product_id.in_(products))
    return _finish(query, columns, OrderLine.product_id,
                   OrderLine.held * OrderLine.held_unit_cost, by_product=by_product,
                   records=records, quantity=OrderLine.held, kind=literal(PROMISED),
                   reversal=literal(False), at=func.coalesce(Order.confirmed_at,
                                                             Order.created_at))


def _promises_returned(columns, *, where, products, by_product, records):
    """The goods promised in a pooled warehouse returned while still held (clauses `where` on
    OrderReturn and its Order)."""
    query = (select(OrderReturn.id).select_from(OrderReturn)
             .join(OrderLine, OrderLine.id == OrderReturn.line_id)
             .join(Order, Order.id == OrderReturn.order_id)
             .where(OrderLine.held_unit_cost.is_not(None), OrderReturn.from_held > 0, *where))
    if products is not None:
        query = query.where(OrderLine.product_id.in_(products))
    return _finish(query, columns, OrderLine.product_id,
                   -OrderReturn.from_held * OrderLine.held_unit_cost, by_product=by_product,
                   records=records, quantity=OrderReturn.from_held,
                   kind=literal(PROMISE_RETURNED), reversal=literal(False), at=OrderReturn.at)


def of_orders(*columns, where=(), products=None, by_product=False, records=False):
    """The cost of goods sold of the orders `where` selects (clauses on Order), whenever their
    goods moved or came back (the event ROI: the goods of the event's deals, less those brought
    back since; a customer's lifetime). `columns`: Order columns (or the Order entity, with
    records) to sum per; `products`: only these products' goods (ids; None: all). A list of
    selects, to be added up."""
    shape = {"products": products, "by_product": by_product, "records": records}
    return [_moves(columns, orders=where, reasons=SOLD + BROUGHT_BACK, **shape),
            _promised(columns, where=where, **shape),
            _promises_returned(columns, where=where, **shape)]


def of_period(*columns, where=(), since, until, products=None, by_product=False,
              records=False):
    """The cost of goods sold of a period [since, until) (UTC), matching its sales: the goods
    sold with the orders `where` selects (clauses on Order) that were taken in the period —
    handed over (with those moves' reversals) or promised in pooled custody —, and the goods of
    the orders `where` selects brought back in the period (into free stock, or returned while
    held in pooled custody), whenever the order was taken. A list of selects, to be added up."""
    shape = {"products": products, "by_product": by_product, "records": records}
    taken = (*where, Order.created_at >= since, Order.created_at < until)
    return [_moves(columns, orders=taken, reasons=SOLD, **shape),
            _promised(columns, where=taken, **shape),
            _moves(columns, where=(*where, StockMove.at >= since, StockMove.at < until),
                   reasons=BROUGHT_BACK, **shape),
            _promises_returned(columns, where=(*where, OrderReturn.at >= since,
                                               OrderReturn.at < until), **shape)]

"""The cost of goods sold (销售成本, DESIGN §3 "Figures"), defined once for every report that
counts it (the event ROI, the profit report).

The cost of goods sold of some orders is read from the stock ledger, never from the order lines
or a product's standard cost: Σ quantity × unit cost (the batch's cost, written on the move) of
the stock moves of those orders (document "orders") that

- hand the goods over: taken home (sale_issue) or put on a warehouse's custody shelf for the
  customer (custody_deposit) — +cost;
- reverse such a move (红冲, the same reason with reverses_id set) — −cost;
- bring goods back into free stock: a customer return (customer_return) or goods taken off the
  custody shelf (custody_return, a return of goods still held or a cancelled order's) — −cost.
  Goods brought back to scrap stay a cost.

A pickup from the custody shelf (custody_pickup) costs nothing more: the goods were counted when
they went onto the shelf. Gifts and goods redeemed with points are not goods sold: they have
documents of their own (gift issues, redemptions) and are costs of their own in the reports.
"""
from sqlalchemy import case, func, select

from models.inventory import Location, StockMove
from models.orders import Order

#: Stock moves that hand an order's goods to the customer (or to the custody shelf for them),
#: and those that bring them back.
SOLD, BROUGHT_BACK = ("sale_issue", "custody_deposit"), ("customer_return", "custody_return")
#: The stock moves of orders: the document a move names.
DOCUMENT = "orders"


def signed_cost():
    """The cost of goods sold a stock move adds (fen; negative when it takes cost off)."""
    into_stock = StockMove.to_location_id.in_(select(Location.id).where(Location.kind == "stock"))
    sign = case((StockMove.reason.in_(SOLD) & StockMove.reverses_id.is_(None), 1),
                (StockMove.reason.in_(SOLD), -1),
                (StockMove.reason.in_(BROUGHT_BACK) & into_stock, -1), else_=0)
    return sign * StockMove.quantity * StockMove.unit_cost


def cost_query(*columns, orders=None, where=(), reasons=SOLD + BROUGHT_BACK, per_move=False):
    """A select of `columns` and the cost of goods sold over the stock moves of orders
    (StockMove joined to its Order) of `reasons`: those of the orders the clauses `orders`
    choose, or (orders=None) of any order, limited by `where` (clauses on StockMove and the
    joined Order). Summed (group it by `columns`), or with `per_move=True` the cost of each
    move (a column named "cost").

    Given `orders`, the moves are found order by order through the document index: joined
    plainly, SQLite walks every move of every order (the index's first column) instead."""
    cost = signed_cost()
    query = (select(*columns, cost.label("cost") if per_move else func.sum(cost))
             .select_from(StockMove).join(Order, Order.id == StockMove.document_id)
             .where(StockMove.document_type == DOCUMENT, StockMove.reason.in_(reasons), *where))
    if orders is not None:
        query = query.where(StockMove.document_id.in_(select(Order.id).where(*orders)))
    return query


def of_orders(*columns, where=(), per_move=False):
    """The cost of goods sold of the orders `where` selects (clauses on Order), whenever their
    goods moved (the event ROI: the goods of the event's deals, less those brought back since).
    A list of selects, to be added up."""
    return [cost_query(*columns, orders=where, per_move=per_move)]


def of_period(*columns, where=(), moves=(), since, until, per_move=False):
    """The cost of goods sold of a period, matching its sales (the orders taken in the period,
    less the returns dated in it): two selects, to be added up — the goods handed over for the
    orders `where` selects (clauses on Order) that were taken in [since, until), with those
    moves' reversals; and the goods of the orders `where` selects brought back into free stock
    in [since, until), whenever the order was taken. `moves`: clauses on StockMove (one
    product's moves)."""
    return [cost_query(*columns, orders=(*where, Order.created_at >= since,
                                         Order.created_at < until),
                       where=moves, reasons=SOLD, per_move=per_move),
            cost_query(*columns, where=(*where, *moves, StockMove.at >= since,
                                        StockMove.at < until),
                       reasons=BROUGHT_BACK, per_move=per_move)]

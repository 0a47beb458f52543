"""What the warehouse looks at: stock on hand with its value, near-expiry and expired goods,
products below their threshold, a product's moves, the day's moves; and the check that proves
the cached balances equal the sum of the moves."""
from collections import namedtuple
from datetime import timedelta

from sqlalchemy import case, func, select, union_all
from sqlalchemy.orm import aliased

from extensions import db
from models.clock import day_bounds
from models.inventory.tables import (INTERNAL_KINDS, Batch, Location, Product, StockMove,
                                     StockQuant, Warehouse)
from models.settings import get_setting


def held_in(kind):
    """The sum of quants in locations of this kind (in a query over StockQuant ⋈ Location)."""
    return func.coalesce(func.sum(case((Location.kind == kind, StockQuant.quantity),
                                       else_=0)), 0)


#: What a stock-on-hand row says of its warehouse, product and batch: plain values, read in the
#: same query (thousands of rows would otherwise each load three ORM objects).
WarehouseRow = namedtuple("WarehouseRow", "id code name")
ProductRow = namedtuple("ProductRow", "id sku name unit")
BatchRow = namedtuple("BatchRow", "id number expiry_date unit_cost")


def stock_on_hand(warehouse=None, *, text_clause=None, product=None, nonzero=True):
    """Rows per warehouse, product and batch: free, held for customers, total, value at cost.

    Each row: warehouse, product, batch (named tuples of their shown fields), free, held, total,
    value (fen).
    """
    free, held = held_in("stock"), held_in("custody")
    query = (select(Warehouse.id, Warehouse.code, Warehouse.name, Product.id, Product.sku,
                    Product.name, Product.unit, Batch.id, Batch.number, Batch.expiry_date,
                    Batch.unit_cost, free.label("free"), held.label("held"))
             .select_from(StockQuant)
             .join(Location, StockQuant.location_id == Location.id)
             .join(Warehouse, Location.warehouse_id == Warehouse.id)
             .join(Product, StockQuant.product_id == Product.id)
             .join(Batch, StockQuant.batch_id == Batch.id)
             .where(Location.kind.in_(INTERNAL_KINDS))
             .group_by(Warehouse.id, Product.id, Batch.id)
             .order_by(Warehouse.code, Product.sku, Batch.expiry_date.is_(None),
                       Batch.expiry_date, Batch.id))
    if warehouse is not None:
        query = query.where(Location.warehouse_id == warehouse.id)
    if product is not None:
        query = query.where(StockQuant.product_id == product.id)
    if text_clause is not None:
        query = query.where(text_clause)
    if nonzero:
        query = query.having(func.sum(func.abs(StockQuant.quantity)) != 0)
    rows, warehouses, products = [], {}, {}
    for (w_id, w_code, w_name, p_id, sku, p_name, unit, b_id, number, expiry, unit_cost,
         row_free, row_held) in db.session.execute(query):
        if w_id not in warehouses:
            warehouses[w_id] = WarehouseRow(w_id, w_code, w_name)
        if p_id not in products:
            products[p_id] = ProductRow(p_id, sku, p_name, unit)
        total = row_free + row_held
        rows.append({"warehouse": warehouses[w_id], "product": products[p_id],
                     "batch": BatchRow(b_id, number, expiry, unit_cost), "free": row_free,
                     "held": row_held, "total": total, "value": total * unit_cost})
    return rows


def totals(rows):
    return {"free": sum(r["free"] for r in rows), "held": sum(r["held"] for r in rows),
            "value": sum(r["value"] for r in rows)}


def warehouse_holds_stock(warehouse):
    return bool(db.session.scalar(
        select(func.count(StockQuant.id)).join(Location, StockQuant.location_id == Location.id)
        .where(Location.warehouse_id == warehouse.id, StockQuant.quantity != 0)))


def expiring(today, *, within_days=None, warehouse=None):
    """(near, expired): stock rows whose batch expires within N days (the setting by default),
    and those already expired."""
    days = get_setting("inventory.near_expiry_days") if within_days is None else within_days
    # Only the batches expiring by then are read (the whole stock was thousands of rows).
    rows = stock_on_hand(warehouse, text_clause=Batch.expiry_date <= today + timedelta(days=days))
    expired = [r for r in rows if r["batch"].expiry_date < today]
    near = [r for r in rows
            if today <= r["batch"].expiry_date <= today + timedelta(days=days)]
    for row in [*near, *expired]:
        row["days_left"] = (row["batch"].expiry_date - today).days
    return near, expired


def below_threshold():
    """Active products whose free stock across all warehouses is at or below their threshold:
    [(product, free)]."""
    free = (select(StockQuant.product_id, func.sum(StockQuant.quantity).label("free"))
            .join(Location, StockQuant.location_id == Location.id)
            .where(Location.kind == "stock").group_by(StockQuant.product_id).subquery())
    on_hand = func.coalesce(free.c.free, 0)
    return db.session.execute(
        select(Product, on_hand.label("free")).outerjoin(free, free.c.product_id == Product.id)
        .where(Product.is_active.is_(True), Product.low_stock_threshold > 0,
               on_hand <= Product.low_stock_threshold)
        .order_by(on_hand - Product.low_stock_threshold, Product.sku)).all()


def moves_query(*, product=None, warehouse=None, day=None, reason=None, customer_id=None):
    """Moves newest first, filtered: a product's history, a warehouse's, a day's (company time),
    a reason's, or those concerning a customer."""
    query = select(StockMove).order_by(StockMove.at.desc(), StockMove.id.desc())
    if product is not None:
        query = query.where(StockMove.product_id == product.id)
    if warehouse is not None:
        inside = select(Location.id).where(Location.warehouse_id == warehouse.id)
        query = query.where((StockMove.from_location_id.in_(inside))
                            | (StockMove.to_location_id.in_(inside)))
    if day is not None:
        start, end = day_bounds(day)
        query = query.where(StockMove.at >= start, StockMove.at < end)
    if reason:
        query = query.where(StockMove.reason == reason)
    if customer_id is not None:
        query = query.where(StockMove.customer_id == customer_id)
    return query


# --- The ledger check ------------------------------------------------------------------------

def check_stock():
    """Mismatches between the cached balances and the sum of the moves, and balances below zero
    when negative stock is not allowed. [] when the books are right."""
    ins = select(StockMove.to_location_id.label("location_id"), StockMove.product_id,
                 StockMove.batch_id, StockMove.quantity.label("quantity"))
    outs = select(StockMove.from_location_id.label("location_id"), StockMove.product_id,
                  StockMove.batch_id, (-StockMove.quantity).label("quantity"))
    flows = union_all(ins, outs).subquery()
    sums = (select(flows.c.location_id, flows.c.product_id, flows.c.batch_id,
                   func.sum(flows.c.quantity).label("total"))
            .join(Location, Location.id == flows.c.location_id)
            .where(Location.kind.in_(INTERNAL_KINDS))
            .group_by(flows.c.location_id, flows.c.product_id, flows.c.batch_id)).subquery()
    quant = aliased(StockQuant)
    from_moves = {(r.location_id, r.product_id, r.batch_id): r.total
                  for r in db.session.execute(select(sums))}
    cached = {(q.location_id, q.product_id, q.batch_id): q.quantity
              for q in db.session.execute(select(quant.location_id, quant.product_id,
                                                 quant.batch_id, quant.quantity))}
    problems = []
    for key in sorted(set(from_moves) | set(cached)):
        moved, held = from_moves.get(key, 0), cached.get(key, 0)
        if moved != held:
            problems.append(f"stock location={key[0]} product={key[1]} batch={key[2]}: "
                            f"balance {held}, moves sum to {moved}")
    if not get_setting("inventory.allow_negative_stock"):
        problems += [f"stock location={k[0]} product={k[1]} batch={k[2]}: below zero ({v})"
                     for k, v in sorted(cached.items()) if v < 0]
    original = aliased(StockMove, name="original")
    problems += [f"stock move {move_id}: does not mirror move {original_id}, which it reverses"
                 for move_id, original_id in db.session.execute(
                     select(StockMove.id, original.id)
                     .join(original, StockMove.reverses_id == original.id)
                     .where((StockMove.product_id != original.product_id)
                            | (StockMove.batch_id != original.batch_id)
                            | (StockMove.quantity != original.quantity)
                            | (StockMove.from_location_id != original.to_location_id)
                            | (StockMove.to_location_id != original.from_location_id)))]
    return problems

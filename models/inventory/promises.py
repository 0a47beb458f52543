"""Pooled custody as the warehouse sees it: per product what is on hand, what is promised to
customers who left goods in custody and what is free to sell; the nightly list of products whose
free stock is below zero (the clerk's shortfalls), and a warehouse's custody mode, changed only
while nothing is held there."""
from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import undefer

from extensions import db
from models.audit import audit
from models.base import Conflict, InvalidInput, utcnow
from models.inventory.reads import ProductRow, held_in
from models.inventory.stock import location_of, promised
from models.inventory.tables import (CUSTODY_MODES, INTERNAL_KINDS, Location, Product,
                                     StockQuant, StockShortfall, Warehouse)


def free_to_sell(warehouse=None, *, text_clause=None, product=None):
    """Per warehouse and product: on hand (free stock and the custody shelf), promised to
    customers in custody (the goods on a reserved warehouse's custody shelf, or a pooled
    warehouse's custody balances) and free to sell (on hand − promised), with the warehouse's
    custody mode. Rows with nothing on hand and nothing promised are left out; a product
    promised but not in stock is there (its free stock is below zero)."""
    query = (select(Location.warehouse_id, StockQuant.product_id, held_in("stock"),
                    held_in("custody"))
             .join(Location, StockQuant.location_id == Location.id)
             .where(Location.kind.in_(INTERNAL_KINDS))
             .group_by(Location.warehouse_id, StockQuant.product_id))
    if warehouse is not None:
        query = query.where(Location.warehouse_id == warehouse.id)
    if product is not None:
        query = query.where(StockQuant.product_id == product.id)
    figures = {(w, p): [free, held, 0] for w, p, free, held in db.session.execute(query)}
    for key, quantity in promised(warehouse.id if warehouse else None,
                                  [product.id] if product else None).items():
        figures.setdefault(key, [0, 0, 0])[2] += quantity
    figures = {key: f for key, f in figures.items() if any(f)}
    if not figures:
        return []
    products = select(Product.id, Product.sku, Product.name, Product.unit).where(
        Product.id.in_({p for _w, p in figures}))
    if text_clause is not None:
        products = products.where(text_clause)
    products = {row[0]: ProductRow(*row) for row in db.session.execute(products)}
    warehouses = {w.id: w for w in db.session.scalars(select(Warehouse).where(
        Warehouse.id.in_({w for w, _p in figures})).options(undefer(Warehouse.custody_mode)))}
    rows = []
    for (w_id, p_id), (free, held, pooled) in figures.items():
        if p_id not in products:
            continue
        on_hand, promise = free + held, held + pooled
        rows.append({"warehouse": warehouses[w_id], "product": products[p_id],
                     "mode": warehouses[w_id].custody_mode, "on_hand": on_hand,
                     "promised": promise, "free": on_hand - promise})
    return sorted(rows, key=lambda r: (r["warehouse"].code, r["product"].sku))


def shortfalls(day=None):
    """(the day of the nightly list, its rows): products whose free stock was below zero —
    the latest list, or the one of `day`."""
    if day is None:
        day = db.session.scalar(select(func.max(StockShortfall.run_date)))
    if day is None:
        return None, []
    return day, db.session.scalars(
        select(StockShortfall).where(StockShortfall.run_date == day)
        .order_by(StockShortfall.warehouse_id, StockShortfall.product_id)).all()


def record_shortfalls(day, now=None):
    """The nightly list: every product whose free stock in a warehouse is below zero now,
    written under (day, warehouse, product) — a re-run writes nothing twice. Returns the rows
    written."""
    rows = [{"run_date": day, "warehouse_id": row["warehouse"].id,
             "product_id": row["product"].id, "on_hand": row["on_hand"],
             "promised": row["promised"], "created_at": now or utcnow()}
            for row in free_to_sell() if row["free"] < 0]
    if not rows:
        return 0
    dialect = postgresql if db.engine.dialect.name == "postgresql" else sqlite
    written = db.session.execute(
        dialect.insert(StockShortfall).values(rows).on_conflict_do_nothing(
            index_elements=["run_date", "warehouse_id", "product_id"])
        .returning(StockShortfall.id)).all()
    return len(written)


def set_custody_mode(warehouse, mode, *, actor, now=None):
    """Switch a warehouse between reserved and pooled custody. Refused while anything is held
    for customers there (on its custody shelf or promised out of its stock): the held goods
    would be in neither place the new mode looks."""
    if mode not in CUSTODY_MODES:
        raise InvalidInput(_("Choose how the warehouse keeps goods held for customers."),
                           field="custody_mode")
    warehouse = db.session.scalar(select(Warehouse).where(Warehouse.id == warehouse.id)
                                  .options(undefer(Warehouse.custody_mode))
                                  .with_for_update(of=Warehouse)
                                  .execution_options(populate_existing=True))
    before = warehouse.custody_mode
    if mode == before:
        return warehouse
    shelf = db.session.scalar(select(func.coalesce(func.sum(func.abs(StockQuant.quantity)), 0))
                              .where(StockQuant.location_id == location_of(warehouse,
                                                                           "custody").id))
    if shelf or promised(warehouse.id):
        raise Conflict(_("Customers still hold goods in %(name)s: its custody mode can be "
                         "changed only when nothing is held there. Hand the goods over or "
                         "return them first.", name=warehouse.name), field="custody_mode")
    warehouse.custody_mode = mode
    db.session.flush()
    audit(actor, "warehouse.custody_mode", warehouse, before={"custody_mode": before},
          after={"custody_mode": mode}, summary=f"{warehouse.name}: {mode}", now=now)
    return warehouse

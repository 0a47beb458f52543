"""The custody area's settings, audit labels, timeline entries and ledger check. Imported
before its operations (models/custody/__init__.py): custody registers these before the orders
and points it reads do theirs, the order the settings page and the audit log list them in."""
from flask_babel import gettext as _, lazy_gettext as _l
from sqlalchemy import case, func, select
from sqlalchemy.orm import aliased, lazyload

from extensions import db
from models import inventory as inv
from models.audit import register_actions, register_targets
from models.custody.tables import RELEASE_RULES, CustodyEntry, CustodyPickup, OpeningHolding
from models.ledgers import register_check
from models.settings import define, define_area
from models.timeline import TimelineItem, register_provider


def check_custody():
    """Balances never below zero, and the custody shelves hold exactly what customers hold.

    In a pooled warehouse the promise and the stock are checked apart: customers' balances
    (entries without a batch) never below zero, each pickup handed over by its own stock move
    (same product and quantity, out of that warehouse's free stock to the customer) and each
    reversed pickup's move reversed; the stock itself is the stock ledger's check. A
    warehouse holds goods only in its own mode: none on a pooled warehouse's custody shelf,
    no promise in a reserved one."""
    problems = []
    for customer_id, product_id, batch_id, held in db.session.execute(
            select(CustodyEntry.customer_id, CustodyEntry.product_id, CustodyEntry.batch_id,
                   func.sum(CustodyEntry.quantity))
            .group_by(CustodyEntry.customer_id, CustodyEntry.product_id,
                      CustodyEntry.batch_id)):
        if held < 0:
            problems.append(f"custody customer={customer_id} product={product_id} "
                            f"batch={batch_id}: balance {held}")
    owed = {(w, p, b): held for w, p, b, held in db.session.execute(
        select(CustodyEntry.warehouse_id, CustodyEntry.product_id, CustodyEntry.batch_id,
               func.sum(CustodyEntry.quantity))
        .where(CustodyEntry.batch_id.is_not(None))
        .group_by(CustodyEntry.warehouse_id, CustodyEntry.product_id, CustodyEntry.batch_id))}
    shelves = {(w, p, b): q for w, p, b, q in db.session.execute(
        select(inv.Location.warehouse_id, inv.StockQuant.product_id, inv.StockQuant.batch_id,
               inv.StockQuant.quantity)
        .join(inv.Location, inv.StockQuant.location_id == inv.Location.id)
        .where(inv.Location.kind == "custody"))}
    for key in sorted(set(owed) | set(shelves)):
        if owed.get(key, 0) != shelves.get(key, 0):
            problems.append(f"custody warehouse={key[0]} product={key[1]} batch={key[2]}: "
                            f"customers hold {owed.get(key, 0)}, the shelf has "
                            f"{shelves.get(key, 0)}")
    # Goods taken out of custody by a return or a cancelled order: their stock moves (the
    # order's document) match the custody ledger's return entries.
    signed = case((inv.StockMove.reverses_id.is_(None), inv.StockMove.quantity),
                  else_=-inv.StockMove.quantity)
    moved = {(o, p): n for o, p, n in db.session.execute(
        select(inv.StockMove.document_id, inv.StockMove.product_id, func.sum(signed))
        .where(inv.StockMove.document_type == "orders",
               inv.StockMove.reason == "custody_return")
        .group_by(inv.StockMove.document_id, inv.StockMove.product_id))}
    returned = {(o, p): -n for o, p, n in db.session.execute(
        select(CustodyEntry.order_id, CustodyEntry.product_id, func.sum(CustodyEntry.quantity))
        .where(CustodyEntry.kind == "return", CustodyEntry.batch_id.is_not(None))
        .group_by(CustodyEntry.order_id, CustodyEntry.product_id))}
    for key in sorted(set(moved) | set(returned)):
        if moved.get(key, 0) != returned.get(key, 0):
            problems.append(f"order {key[0]} product {key[1]}: custody_return moves "
                            f"{moved.get(key, 0)}, goods say {returned.get(key, 0)}")
    return problems + _check_deposits() + _check_pooled() + _check_opening()


def _check_deposits():
    """What order lines left in custody: the deposits of each order and product equal the
    lines' held quantity (a large order waiting for its confirmation has left nothing), those
    onto a custody shelf (with a batch) equal the order's custody_deposit moves, and exactly the
    lines promised in pooled custody have the unit cost they count at (held_unit_cost)."""
    from models.orders import Order, OrderLine  # custody reads orders (.importlinter)
    problems = []
    signed = case((inv.StockMove.reverses_id.is_(None), inv.StockMove.quantity),
                  else_=-inv.StockMove.quantity)
    moved = {(o, p): n for o, p, n in db.session.execute(
        select(inv.StockMove.document_id, inv.StockMove.product_id, func.sum(signed))
        .where(inv.StockMove.document_type == "orders",
               inv.StockMove.reason == "custody_deposit")
        .group_by(inv.StockMove.document_id, inv.StockMove.product_id))}
    deposited, shelved = {}, {}
    for order_id, product_id, on_shelf, quantity in db.session.execute(
            select(CustodyEntry.order_id, CustodyEntry.product_id,
                   CustodyEntry.batch_id.is_not(None), func.sum(CustodyEntry.quantity))
            .where(CustodyEntry.kind == "deposit", CustodyEntry.order_id.is_not(None))
            .group_by(CustodyEntry.order_id, CustodyEntry.product_id,
                      CustodyEntry.batch_id.is_not(None))):
        key = (order_id, product_id)
        deposited[key] = deposited.get(key, 0) + quantity
        if on_shelf:
            shelved[key] = shelved.get(key, 0) + quantity
    held = {(o, p): n for o, p, n in db.session.execute(
        select(OrderLine.order_id, OrderLine.product_id, func.sum(OrderLine.held))
        .join(Order, Order.id == OrderLine.order_id)
        .where(Order.confirmation != "pending")
        .group_by(OrderLine.order_id, OrderLine.product_id))}
    for key in sorted(set(deposited) | {k for k, n in held.items() if n}):
        if deposited.get(key, 0) != held.get(key, 0):
            problems.append(f"order {key[0]} product {key[1]}: left in custody "
                            f"{deposited.get(key, 0)}, the lines say {held.get(key, 0)}")
    for key in sorted(set(shelved) | set(moved)):
        if shelved.get(key, 0) != moved.get(key, 0):
            problems.append(f"order {key[0]} product {key[1]}: custody_deposit moves "
                            f"{moved.get(key, 0)}, goods say {shelved.get(key, 0)}")
    # A line whose goods were promised in pooled custody keeps what they count at in the cost
    # of goods sold (models.orders.cogs); no other line has one.
    promised = set(db.session.scalars(select(CustodyEntry.order_line_id).where(
        CustodyEntry.kind == "deposit", CustodyEntry.batch_id.is_(None),
        CustodyEntry.order_line_id.is_not(None)).distinct()))
    costed = set(db.session.scalars(select(OrderLine.id).where(
        OrderLine.held_unit_cost.is_not(None))))
    for line_id in sorted(promised ^ costed):
        problems.append(f"order line {line_id}: " + (
            "promised in pooled custody without the cost it counts at" if line_id in promised
            else "a cost of goods promised in pooled custody, but nothing was promised"))
    return problems


def _check_pooled():
    """The pooled warehouses' half of check_custody (see there)."""
    problems = []
    modes = dict(db.session.execute(select(inv.Warehouse.id, inv.Warehouse.custody_mode)).all())
    for warehouse_id, pooled, held in db.session.execute(
            select(CustodyEntry.warehouse_id, CustodyEntry.batch_id.is_(None),
                   func.sum(CustodyEntry.quantity))
            .group_by(CustodyEntry.warehouse_id, CustodyEntry.batch_id.is_(None))):
        if held and bool(pooled) != (modes.get(warehouse_id) == "pooled"):
            problems.append(f"custody warehouse={warehouse_id} ({modes.get(warehouse_id)}): "
                            f"customers hold {held} kept as "
                            f"{'a promise' if pooled else 'goods on the shelf'}")
    stock = {w: loc for loc, w in db.session.execute(
        select(inv.Location.id, inv.Location.warehouse_id).where(inv.Location.kind == "stock"))}
    customer = db.session.scalar(select(inv.Location.id).where(
        inv.Location.warehouse_id.is_(None), inv.Location.kind == "customer"))
    original = aliased(CustodyEntry)
    reversed_move = aliased(inv.StockMove)
    for entry, move, reversed_of in db.session.execute(
            select(CustodyEntry, inv.StockMove, reversed_move.id)
            .outerjoin(inv.StockMove, inv.StockMove.id == CustodyEntry.stock_move_id)
            .outerjoin(original, original.id == CustodyEntry.reverses_id)
            .outerjoin(reversed_move, reversed_move.id == original.stock_move_id)
            .where(CustodyEntry.batch_id.is_(None),
                   (CustodyEntry.kind == "pickup") | (original.kind == "pickup"))
            .options(lazyload("*"))):
        where = f"custody entry {entry.id} ({entry.kind}, customer={entry.customer_id})"
        if move is None:
            problems.append(f"{where}: no stock move hands the goods over")
            continue
        if entry.kind == "pickup":
            right = (move.reason == "custody_pickup" and move.reverses_id is None
                     and move.from_location_id == stock.get(entry.warehouse_id)
                     and move.to_location_id == customer
                     and move.quantity == -entry.quantity)
        else:
            right = (reversed_of is not None and move.reverses_id == reversed_of
                     and move.quantity == entry.quantity)
        if not right or move.product_id != entry.product_id or \
                move.customer_id != entry.customer_id:
            problems.append(f"{where}: stock move {move.id} does not match it")
    return problems


def _check_opening():
    """What holdings brought from the old system (期初寄存) were credited: each holding's
    deposits equal its quantity, its entries are of its customer, product and warehouse, and
    those onto a custody shelf (with a batch, less their reversals) equal its "opening" moves
    onto that shelf (less theirs)."""
    problems = []
    signed = case((inv.StockMove.reverses_id.is_(None), inv.StockMove.quantity),
                  else_=-inv.StockMove.quantity)
    moved = dict(db.session.execute(
        select(inv.StockMove.document_id, func.sum(signed))
        .where(inv.StockMove.document_type == OpeningHolding.__tablename__,
               inv.StockMove.reason == "opening")
        .group_by(inv.StockMove.document_id)).all())
    original = aliased(CustodyEntry)
    deposited, shelved = {}, {}
    for holding_id, kind, on_shelf, quantity in db.session.execute(
            select(CustodyEntry.opening_holding_id, CustodyEntry.kind,
                   CustodyEntry.batch_id.is_not(None), func.sum(CustodyEntry.quantity))
            .outerjoin(original, original.id == CustodyEntry.reverses_id)
            .where(CustodyEntry.opening_holding_id.is_not(None),
                   (CustodyEntry.kind == "deposit") | (original.kind == "deposit"))
            .group_by(CustodyEntry.opening_holding_id, CustodyEntry.kind,
                      CustodyEntry.batch_id.is_not(None))):
        if kind == "deposit":
            deposited[holding_id] = deposited.get(holding_id, 0) + quantity
        if on_shelf:
            shelved[holding_id] = shelved.get(holding_id, 0) + quantity
    imported = dict(db.session.execute(select(OpeningHolding.id, OpeningHolding.quantity)).all())
    for holding_id in sorted(set(imported) | set(deposited)):
        if deposited.get(holding_id, 0) != imported.get(holding_id, 0):
            problems.append(f"opening holding {holding_id}: deposited "
                            f"{deposited.get(holding_id, 0)}, imported "
                            f"{imported.get(holding_id, 0)}")
    for holding_id in sorted(set(shelved) | set(moved)):
        if shelved.get(holding_id, 0) != moved.get(holding_id, 0):
            problems.append(f"opening holding {holding_id}: opening moves onto the custody "
                            f"shelf {moved.get(holding_id, 0)}, goods say "
                            f"{shelved.get(holding_id, 0)}")
    for entry_id, holding_id in db.session.execute(
            select(CustodyEntry.id, OpeningHolding.id)
            .join(OpeningHolding, OpeningHolding.id == CustodyEntry.opening_holding_id)
            .where((CustodyEntry.customer_id != OpeningHolding.customer_id)
                   | (CustodyEntry.product_id != OpeningHolding.product_id)
                   | (CustodyEntry.warehouse_id != OpeningHolding.warehouse_id))):
        problems.append(f"custody entry {entry_id}: not of opening holding {holding_id}'s "
                        f"customer, product and warehouse")
    return problems


define_area("custody", _l("Custody"))
define("custody.release_rule", "str", "proportional", _l("Goods held may be collected"),
       choices=tuple(RELEASE_RULES.items()))
define("custody.remind_after_days", "int", 30, _l("Remind customers who have not collected "
                                                  "for (days)"), min=1, max=3650)
register_actions({"custody.pickup": _l("Handed over goods held"),
                  "custody.reverse": _l("Corrected custody")})
register_targets({"custody_pickups": _l("Pickup")})
inv.REASONS.setdefault("custody_return", _l("Out of custody (returned)"))


@register_provider
def _custody_items(customer, limit):
    items = []
    pickups = db.session.scalars(select(CustodyPickup).where(
        CustodyPickup.customer_id == customer.id).options(lazyload(CustodyPickup.customer))
        .order_by(CustodyPickup.at.desc()).limit(limit)).all()
    lines = {}  # the pickups' entries in one query, not one a pickup
    for entry in db.session.scalars(select(CustodyEntry).where(
            CustodyEntry.pickup_id.in_([pickup.id for pickup in pickups]))
            .options(lazyload(CustodyEntry.batch), lazyload(CustodyEntry.actor))
            .order_by(CustodyEntry.id)) if pickups else []:
        lines.setdefault(entry.pickup_id, []).append(entry)
    for pickup in pickups:
        detail = "、".join(f"{e.product.name}×{-e.quantity}" for e in lines.get(pickup.id, []))
        if pickup.collected_by:
            detail += _("; collected by %(name)s (%(relation)s)", name=pickup.collected_by,
                        relation=pickup.relation or "—")
        items.append(TimelineItem(at=pickup.at, kind="custody.pickup",
                                  title=_("Collected goods held (%(number)s)",
                                          number=pickup.number),
                                  detail=detail, actor=pickup.actor.display_name))
    return items


register_check("custody")(check_custody)


@inv.register_promises
def _promised(warehouse_id=None, product_ids=None):
    """What customers hold in pooled warehouses: their balances without a batch."""
    query = (select(CustodyEntry.warehouse_id, CustodyEntry.product_id,
                    func.sum(CustodyEntry.quantity))
             .where(CustodyEntry.batch_id.is_(None))
             .group_by(CustodyEntry.warehouse_id, CustodyEntry.product_id))
    if warehouse_id is not None:
        query = query.where(CustodyEntry.warehouse_id == warehouse_id)
    if product_ids is not None:
        query = query.where(CustodyEntry.product_id.in_(product_ids))
    return {(w, p): n for w, p, n in db.session.execute(query)}

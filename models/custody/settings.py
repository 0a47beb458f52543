"""The custody area's settings, audit labels, timeline entries and ledger check. Imported
before its operations (models/custody/__init__.py): custody registers these before the orders
and points it reads do theirs, the order the settings page and the audit log list them in."""
from flask_babel import gettext as _, lazy_gettext as _l
from sqlalchemy import case, func, select

from extensions import db
from models import inventory as inv
from models.audit import register_actions, register_targets
from models.custody.tables import RELEASE_RULES, CustodyEntry, CustodyPickup
from models.ledgers import register_check
from models.settings import define, define_area
from models.timeline import TimelineItem, register_provider


def check_custody():
    """Balances never below zero, and the custody shelves hold exactly what customers hold."""
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
        .where(CustodyEntry.kind == "return")
        .group_by(CustodyEntry.order_id, CustodyEntry.product_id))}
    for key in sorted(set(moved) | set(returned)):
        if moved.get(key, 0) != returned.get(key, 0):
            problems.append(f"order {key[0]} product {key[1]}: custody_return moves "
                            f"{moved.get(key, 0)}, goods say {returned.get(key, 0)}")
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
    for pickup in db.session.scalars(select(CustodyPickup).where(
            CustodyPickup.customer_id == customer.id).order_by(CustodyPickup.at.desc())
            .limit(limit)):
        lines = db.session.scalars(select(CustodyEntry).where(
            CustodyEntry.pickup_id == pickup.id)).all()
        detail = "、".join(f"{e.product.name}×{-e.quantity}" for e in lines)
        if pickup.collected_by:
            detail += _("; collected by %(name)s (%(relation)s)", name=pickup.collected_by,
                        relation=pickup.relation or "—")
        items.append(TimelineItem(at=pickup.at, kind="custody.pickup",
                                  title=_("Collected goods held (%(number)s)",
                                          number=pickup.number),
                                  detail=detail, actor=pickup.actor.display_name))
    return items


register_check("custody")(check_custody)

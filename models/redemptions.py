"""Redeeming points for goods (兑换): the points ledger, the stock, and — when the customer leaves
the goods with the company — the custody ledger, in one transaction.

A workflow over the ledgers of points and custody (DESIGN §3 Layers, 4): the redemption itself
(its table, its points entry) is the points area's; the goods it hands over or puts on the
custody shelf are the stock's and custody's.
"""
from flask_babel import gettext as _
from sqlalchemy import select

from extensions import db
from models import custody, inventory as inv
from models.audit import audit
from models.base import Conflict, InvalidInput, PermissionDenied, add_once, lock_row, utcnow
from models.clock import document_number, local_day
from models.points import PointsEntry, Redemption, default_expiry, lock_account, write_entry


def redeem(customer, items, *, warehouse, actor, token, event=None, in_custody=False,
           confirm_below_promise=False, now=None):
    """Exchange points for redeemable products at their points price: the balance checked under
    the account's lock, a redemption-issue stock move each (FEFO, never expired) — or, when the
    customer leaves the goods with the company (`in_custody`), a deposit onto the warehouse's
    custody shelf and into the custody ledger, collected later like goods bought. In a pooled
    warehouse goods left are a promise valued at the product's standard cost, and goods taken
    that leave less on hand than is promised need `confirm_below_promise`."""
    if not actor.has_role("manager", "warehouse", "event_staff", "marketer", "dept_head"):
        raise PermissionDenied(_("You may not redeem points."))
    items = [(product, quantity) for product, quantity in items if quantity]
    if not items:
        raise InvalidInput(_("Choose what the customer takes."), field="items")
    total = 0
    for product, quantity in items:
        inv.check_quantity(quantity)
        if not product.redeemable or not product.points_price or not product.is_active:
            raise InvalidInput(_("%(name)s cannot be redeemed with points.", name=product.name),
                               field="items")
        total += product.points_price * quantity
    now = now or utcnow()
    account = lock_account(customer.id)
    if token and (prior := Redemption.by_token(token)) is not None:
        return prior
    if total > account.balance:
        raise Conflict(_("%(name)s has %(n)s points; these come to %(total)s.",
                         name=customer.name, n=account.balance, total=total), field="items")
    redemption = Redemption(customer_id=customer.id, warehouse_id=warehouse.id,
                            event_id=event.id if event else None,
                            marketer_id=customer.owner_id, points=total, actor_id=actor.id,
                            at=now, token=token or None, in_custody=bool(in_custody))
    redemption, new = add_once(redemption)
    if not new:
        return redemption
    redemption.number = document_number("DH", now, redemption.id)
    cost = 0
    for product, quantity in items:
        if in_custody:
            moves = custody.deposit_redeemed(redemption, product, quantity, warehouse=warehouse,
                                             actor=actor, event=event, now=now)
            if custody.is_pooled(warehouse):  # nothing moved: the goods stay in stock
                cost += quantity * product.standard_cost
        else:
            moves = inv.issue(product=product, quantity=quantity, warehouse=warehouse,
                              reason="redemption_issue", actor=actor, customer=customer,
                              event=event, document=("points_redemptions", redemption.id),
                              note=redemption.number,
                              confirm_below_promise=confirm_below_promise, now=now)
        cost += sum(move.value for move in moves)
    redemption.cost = cost
    write_entry(account, kind="redeemed", points=-total, actor=actor, now=now,
                redemption_id=redemption.id, reason=redemption.number)
    db.session.flush()
    audit(actor, "points.redeem", redemption, summary=f"{customer.name} −{total}", now=now)
    return redemption


def reverse_redemption(redemption, *, reason, actor, now=None):
    """A manager undoes a redemption: points back, goods back (goods left in custody come off
    the custody shelf and the customer's custody balance — refused once any was collected)."""
    if not actor.has_role("manager"):
        raise PermissionDenied(_("Only a manager reverses a redemption."))
    if not (reason or "").strip():
        raise InvalidInput(_("Say why the redemption is reversed."), field="reason")
    account = lock_account(redemption.customer_id)
    redemption = lock_row(redemption)
    if redemption.reversed_at is not None:
        raise Conflict(_("This redemption has already been reversed."))
    now = now or utcnow()
    entry = db.session.scalar(select(PointsEntry).where(
        PointsEntry.redemption_id == redemption.id, PointsEntry.kind == "redeemed"))
    if redemption.in_custody:
        custody.take_back_redeemed(redemption, actor=actor, reason=reason.strip(), now=now)
    else:
        for move in db.session.scalars(select(inv.StockMove).where(
                inv.StockMove.document_type == "points_redemptions",
                inv.StockMove.document_id == redemption.id,
                inv.StockMove.reverses_id.is_(None))):
            inv.reverse(move, actor=actor, note=reason, now=now)
    write_entry(account, kind="reversed", points=-entry.points, actor=actor, now=now,
                expires_on=default_expiry(local_day(now)), reverses_id=entry.id,
                redemption_id=redemption.id, reason=reason.strip()[:200])
    redemption.reversed_at = now
    db.session.flush()
    audit(actor, "points.reverse", redemption, summary=f"{redemption.number}: {reason.strip()}",
          now=now)
    return redemption

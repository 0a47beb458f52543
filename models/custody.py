"""Custody (存货及领取): goods a customer has bought and left with the company, collected box by
box.

The custody ledger has an entry per change, per customer, order line, product and batch:
deposits (goods left when the order was taken), pickups, returns out of custody (the order was
returned) and reversals. A balance is the sum and never goes below zero. The goods themselves sit
on the warehouse's custody shelf (a stock location), so the warehouse's held-for-customers stock
always equals the customers' balances: `check-ledgers` proves it.

A customer may collect only what is paid for: in proportion to what is paid on the order (the
default), or only once it is paid in full (a setting); a manager may release early with a
reason.
"""
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask_babel import gettext as _, lazy_gettext as _l
from sqlalchemy import (CheckConstraint, ForeignKey, Index, Integer, String, func, select)
from sqlalchemy.orm import Load, Mapped, lazyload, mapped_column, relationship

from extensions import db
from formatting import fen, local_day
from models import inventory as inv
from models.audit import audit, register_actions, register_targets
from models.base import Conflict, InvalidInput, NotFound, PermissionDenied, TokenMixin, \
    UTCDateTime, add_once, lock_row, utcnow
from models.customers import Customer
from models.settings import define, define_area, get_setting
from models.timeline import TimelineItem, register_provider

ENTRY_KINDS = {"deposit": _l("Left in custody"), "pickup": _l("Picked up"),
               "return": _l("Returned out of custody"), "reversal": _l("Reversal")}
PICKUP_ROLES = ("warehouse", "manager", "event_staff")
#: When goods held may be collected (the setting custody.release_rule) → its label.
RELEASE_RULES = {"proportional": _l("In proportion to what is paid"),
                 "full": _l("Only once the order is paid in full")}
DOCUMENT = "custody_pickups"


class CustodyPickup(TokenMixin, db.Model):
    """One visit to collect goods: who came, who handed them over; its lines are entries."""
    __tablename__ = "custody_pickups"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str | None] = mapped_column(String(30), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    #: A family member who collected for the customer ("" when the customer came).
    collected_by: Mapped[str] = mapped_column(String(40), default="")
    relation: Mapped[str] = mapped_column(String(20), default="")
    event_id: Mapped[int | None] = mapped_column(ForeignKey("events.id"))
    #: A manager's early release past the payment rule, and why.
    released_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    release_reason: Mapped[str] = mapped_column(String(200), default="")
    actor_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    customer = relationship("Customer", lazy="joined")
    actor = relationship("User", foreign_keys=[actor_id], lazy="joined")


class CustodyEntry(db.Model):
    """One line of the custody ledger. Append-only."""
    __tablename__ = "custody_entries"
    __table_args__ = (
        CheckConstraint("quantity <> 0", name="quantity_not_zero"),
        CheckConstraint("kind IN ('deposit', 'pickup', 'return', 'reversal')",
                        name="known_kind"),
        Index("ix_custody_entries_customer_product", "customer_id", "product_id"),
        Index("ix_custody_entries_line", "order_line_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"), index=True)
    order_line_id: Mapped[int | None] = mapped_column(ForeignKey("order_lines.id"))
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    batch_id: Mapped[int] = mapped_column(ForeignKey("batches.id"))
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouses.id"))
    kind: Mapped[str] = mapped_column(String(10))
    #: Signed: deposits add, pickups and returns take away, a reversal undoes its entry.
    quantity: Mapped[int] = mapped_column(Integer)
    pickup_id: Mapped[int | None] = mapped_column(ForeignKey("custody_pickups.id"), index=True)
    #: Goods redeemed with points and left with the company (no order line: already paid).
    redemption_id: Mapped[int | None] = mapped_column(ForeignKey("points_redemptions.id"),
                                                      index=True)
    reverses_id: Mapped[int | None] = mapped_column(ForeignKey("custody_entries.id"),
                                                    unique=True)
    note: Mapped[str] = mapped_column(String(200), default="")
    actor_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    product = relationship("Product", lazy="joined")
    batch = relationship("Batch", lazy="joined")
    actor = relationship("User", lazy="joined")


# --- Writing ---------------------------------------------------------------------------------

def _entry(*, kind, customer_id, product, batch, warehouse_id, quantity, actor, order_id=None,
           order_line_id=None, pickup=None, reverses=None, note="", now=None,
           redemption_id=None):
    entry = CustodyEntry(kind=kind, customer_id=customer_id, order_id=order_id,
                         order_line_id=order_line_id, redemption_id=redemption_id,
                         product_id=product.id, batch_id=batch.id,
                         warehouse_id=warehouse_id, quantity=quantity, actor_id=actor.id,
                         pickup_id=pickup.id if pickup else None,
                         reverses_id=reverses.id if reverses else None,
                         note=(note or "")[:200], at=now or utcnow())
    db.session.add(entry)
    return entry


def deposit(order, line, *, actor, now=None):
    """Goods of an order line left with the company: moved onto the warehouse's custody shelf
    (first expiry first, never an expired batch) and credited to the customer, batch by batch.
    Called by create_order for the line's held quantity."""
    if line.order_id != order.id or not line.held:
        raise InvalidInput(_("This order line holds nothing to leave in custody."),
                           field="held")
    warehouse = db.session.get(inv.Warehouse, order.warehouse_id)
    moves = inv.take(product=line.product, quantity=line.held,
                     source=inv.location_of(warehouse), target=inv.location_of(warehouse,
                                                                               "custody"),
                     reason="custody_deposit", actor=actor, customer=order.customer,
                     event=order.event, document=("orders", order.id), note=order.number,
                     now=now)
    return [_entry(kind="deposit", customer_id=order.customer_id, product=line.product,
                   batch=move.batch, warehouse_id=warehouse.id, quantity=move.quantity,
                   actor=actor, order_id=order.id, order_line_id=line.id, note=order.number,
                   now=now) for move in moves]


def deposit_redeemed(redemption, product, quantity, *, warehouse, actor, event=None, now=None):
    """Goods redeemed with points left with the company: onto the warehouse's custody shelf
    (first expiry first, never an expired batch) and credited to the customer under the
    redemption, batch by batch. Returns the stock moves (their value is the goods' cost)."""
    moves = inv.take(product=product, quantity=quantity, source=inv.location_of(warehouse),
                     target=inv.location_of(warehouse, "custody"), reason="custody_deposit",
                     actor=actor, customer=redemption.customer_id, event=event,
                     document=("points_redemptions", redemption.id), note=redemption.number,
                     now=now)
    for move in moves:
        _entry(kind="deposit", customer_id=redemption.customer_id, product=product,
               batch=move.batch, warehouse_id=warehouse.id, quantity=move.quantity, actor=actor,
               redemption_id=redemption.id, note=redemption.number, now=now)
    return moves


def take_back_redeemed(redemption, *, actor, reason, now=None):
    """A reversed redemption whose goods are in custody: the deposits are undone (the goods go
    from the custody shelf back to free stock, the customer's balance back to zero). Refused
    with a clear message when any of it has been collected — reverse the pickup first."""
    deposits = db.session.scalars(select(CustodyEntry).where(
        CustodyEntry.redemption_id == redemption.id, CustodyEntry.kind == "deposit")
        .order_by(CustodyEntry.id)).all()
    held = dict(db.session.execute(
        select(CustodyEntry.batch_id, func.sum(CustodyEntry.quantity))
        .where(CustodyEntry.redemption_id == redemption.id)
        .group_by(CustodyEntry.batch_id)).all())
    deposited = {}
    for entry in deposits:
        deposited[entry.batch_id] = deposited.get(entry.batch_id, 0) + entry.quantity
    if any(held.get(batch_id, 0) != quantity for batch_id, quantity in deposited.items()):
        raise Conflict(_("Goods of %(number)s have already been collected from custody: reverse "
                         "the pickup first, or take the goods back as a return.",
                         number=redemption.number))
    for move in db.session.scalars(select(inv.StockMove).where(
            inv.StockMove.document_type == "points_redemptions",
            inv.StockMove.document_id == redemption.id, inv.StockMove.reverses_id.is_(None))
            .order_by(inv.StockMove.id)):
        inv.reverse(move, actor=actor, note=reason, now=now)
    for entry in deposits:
        _entry(kind="reversal", customer_id=entry.customer_id, product=entry.product,
               batch=entry.batch, warehouse_id=entry.warehouse_id, quantity=-entry.quantity,
               actor=actor, redemption_id=redemption.id, reverses=entry, note=reason, now=now)
    db.session.flush()


def redeemed_figures(condition):
    """{(redemption_id, product_id): LineFigures} of goods redeemed into custody whose entries
    match `condition`, in one grouped query (they are paid for: all of it may be collected)."""
    figures = {}
    for redemption_id, product_id, kind, quantity, batch in db.session.execute(
            select(CustodyEntry.redemption_id, CustodyEntry.product_id, CustodyEntry.kind,
                   func.sum(CustodyEntry.quantity), inv.Batch)
            .join(inv.Batch, inv.Batch.id == CustodyEntry.batch_id)
            .where(condition, CustodyEntry.redemption_id.is_not(None))
            .group_by(CustodyEntry.redemption_id, CustodyEntry.product_id, CustodyEntry.kind,
                      inv.Batch.id)):
        figure = figures.setdefault((redemption_id, product_id), LineFigures())
        figure.balances[batch.id] = figure.balances.get(batch.id, 0) + quantity
        figure.batches[batch.id] = batch
        if kind == "deposit":
            figure.deposited += quantity
        elif kind in ("pickup", "reversal"):
            figure.collected -= quantity
    for figure in figures.values():
        figure.balances = {batch_id: n for batch_id, n in figure.balances.items() if n}
    return {key: figure for key, figure in figures.items() if figure.balances}


@dataclass
class LineFigures:
    """What the ledger says of one order line: the balance per batch (batches still holding
    something), the units deposited, the units collected (pickups less their reversals), and
    the batches themselves."""
    balances: dict = field(default_factory=dict)
    deposited: int = 0
    collected: int = 0
    batches: dict = field(default_factory=dict)

    @property
    def held(self):
        return sum(self.balances.values())


def line_figures(condition):
    """{order_line_id: LineFigures} of the lines whose entries match `condition` (a clause on
    CustodyEntry: one line, a pickup's lines, a customer's lines), in one grouped query."""
    figures = {}
    for line_id, kind, quantity, batch in db.session.execute(
            select(CustodyEntry.order_line_id, CustodyEntry.kind,
                   func.sum(CustodyEntry.quantity), inv.Batch)
            .join(inv.Batch, inv.Batch.id == CustodyEntry.batch_id)
            .where(condition, CustodyEntry.order_line_id.is_not(None))
            .group_by(CustodyEntry.order_line_id, CustodyEntry.kind, inv.Batch.id)):
        line = figures.setdefault(line_id, LineFigures())
        line.balances[batch.id] = line.balances.get(batch.id, 0) + quantity
        line.batches[batch.id] = batch
        if kind == "deposit":
            line.deposited += quantity
        elif kind in ("pickup", "reversal"):
            line.collected -= quantity
    for line in figures.values():
        line.balances = {batch_id: held for batch_id, held in line.balances.items() if held}
    return figures


def _figures_of(line_id):
    return line_figures(CustodyEntry.order_line_id == line_id).get(line_id, LineFigures())


def line_balances(line_id):
    """{batch_id: held} of one order line, batches still holding something."""
    return _figures_of(line_id).balances


def line_held(line_id):
    return sum(line_balances(line_id).values())


def return_out(order, line, quantity, *, actor, disposition="restock", now=None):
    """Goods still in custody given back with a return: off the customer's balance and off the
    custody shelf (back to free stock, or to scrap). Latest expiry first, so the freshest go
    back on the shelf. Returns the quantity taken out."""
    balances = line_balances(line.id)
    batches = sorted((db.session.get(inv.Batch, batch_id) for batch_id in balances),
                     key=lambda b: (b.expiry_date is None, b.expiry_date or datetime.max.date()),
                     reverse=True)
    warehouse = db.session.get(inv.Warehouse, order.warehouse_id)
    custody_shelf = inv.location_of(warehouse, "custody")
    target = inv.outside("scrap") if disposition == "scrap" else inv.location_of(warehouse)
    left = quantity
    for batch in batches:
        if not left:
            break
        share = min(left, balances[batch.id])
        inv.take(product=line.product, quantity=share, source=custody_shelf, target=target,
                 reason="custody_return", actor=actor, batch=batch, customer=order.customer,
                 document=("orders", order.id), note=order.number, now=now)
        _entry(kind="return", customer_id=order.customer_id, product=line.product, batch=batch,
               warehouse_id=warehouse.id, quantity=-share, actor=actor, order_id=order.id,
               order_line_id=line.id, note=order.number, now=now)
        left -= share
    return quantity - left


# --- The release rule ------------------------------------------------------------------------

def may_collect(order, figures):
    """The release rule, on figures already read: what is held, limited by what is paid (in
    proportion, or nothing until paid in full — the setting). The one place the rule lives."""
    held = figures.held
    if held <= 0 or order.status != "open":
        return 0
    worth = order.total - order.returned_value
    if order.paid >= worth:
        return held
    if get_setting("custody.release_rule") == "full" or worth <= 0:
        return 0
    # The line's entitlement: its deposit × paid share; less what was collected already.
    entitled = figures.deposited * order.paid // worth
    return max(0, min(held, entitled - figures.collected))


def pickable(order, line):
    """How much of a line the customer may collect now: what is held, limited by what is paid
    (in proportion, or nothing until paid in full — the setting)."""
    return may_collect(order, _figures_of(line.id))


def _expiry_flags(figure, today, near):
    expiries = [figure.batches[batch_id].expiry_date for batch_id in figure.balances]
    expiries = [e for e in expiries if e]
    nearest = min(expiries) if expiries else None
    return {"expiry": nearest, "near_expiry": nearest is not None and nearest <= near,
            "expired": nearest is not None and nearest < today}


def holdings(customer):
    """The customer's held goods, one row per order line still holding something: order, line,
    product, held, pickable, paid, due, the nearest expiry among its batches, and `key` (the
    pickup form's field); then one row per product of a redemption left in custody (redemption
    instead of order and line; paid for with points, so all of it may be collected). A few
    set-based queries whatever the number of lines: the figures, the lines, their orders."""
    from models.orders import Order, OrderLine
    from models.points import Redemption
    today = local_day(utcnow())
    near = today + timedelta(days=get_setting("inventory.near_expiry_days"))
    rows = []
    line_ids = select(CustodyEntry.order_line_id).where(
        CustodyEntry.customer_id == customer.id).group_by(CustodyEntry.order_line_id).having(
        func.sum(CustodyEntry.quantity) != 0)
    figures = line_figures(CustodyEntry.order_line_id.in_(line_ids))
    if figures:
        lines = db.session.scalars(select(OrderLine).where(OrderLine.id.in_(list(figures)))
                                   .order_by(OrderLine.id)).all()
        orders = {order.id: order for order in db.session.scalars(
            select(Order).where(Order.id.in_({line.order_id for line in lines}))
            .options(lazyload("*")))}
        for line in lines:
            order, figure = orders[line.order_id], figures[line.id]
            rows.append({"order": order, "line": line, "redemption": None,
                         "product": line.product, "key": f"line-{line.id}",
                         "held": figure.held, "pickable": may_collect(order, figure),
                         "paid": order.paid, "due": max(order.balance_due, 0),
                         **_expiry_flags(figure, today, near)})
    redeemed = redeemed_figures(CustodyEntry.customer_id == customer.id)
    if redeemed:
        redemptions = {r.id: r for r in db.session.scalars(select(Redemption).where(
            Redemption.id.in_({key[0] for key in redeemed})))}
        products = {p.id: p for p in db.session.scalars(select(inv.Product).where(
            inv.Product.id.in_({key[1] for key in redeemed})))}
        for (redemption_id, product_id), figure in sorted(redeemed.items()):
            rows.append({"order": None, "line": None,
                         "redemption": redemptions[redemption_id],
                         "product": products[product_id],
                         "key": f"redeemed-{redemption_id}-{product_id}",
                         "held": figure.held, "pickable": figure.held, "paid": None, "due": 0,
                         **_expiry_flags(figure, today, near)})
    return rows


# --- Pickup ----------------------------------------------------------------------------------

def _lines_locked(line_ids):
    """{line id: (line, order)} of these order lines, their orders locked (FOR UPDATE on
    PostgreSQL, in id order; on SQLite the write transaction already serialises writers) and
    re-read as `lock_order` does, in one query and without the orders' relationships."""
    from models.orders import Order, OrderLine
    if not line_ids:
        return {}
    rows = db.session.execute(
        select(OrderLine, Order).join(Order, Order.id == OrderLine.order_id)
        .where(OrderLine.id.in_(line_ids)).order_by(Order.id, OrderLine.id)
        .options(Load(Order).lazyload("*")).with_for_update(of=Order)
        .execution_options(populate_existing=True))
    return {line.id: (line, order) for line, order in rows}


def pick_up(customer, quantities, *, actor, token, collected_by="", relation="", event=None,
            release_reason="", now=None):
    """Hand held goods over: quantities = {order_line_id: n, (redemption_id, product_id): n}
    (goods redeemed with points into custody). Each line is checked against its
    balance and the release rule (a manager may release early with a reason), the goods leave
    the custody shelf first expiry first (never an expired batch), and one pickup slip records
    the visit."""
    if not actor.has_role(*PICKUP_ROLES):
        raise PermissionDenied(_("Pickups are handed over by the warehouse, or by event staff "
                                 "at an event."))
    if token and (prior := CustodyPickup.by_token(token)) is not None:
        return prior
    quantities = {line_id: n for line_id, n in quantities.items() if n}
    if not quantities:
        raise InvalidInput(_("Enter how many of each to hand over."), field="quantities")
    release_reason = (release_reason or "").strip()
    if release_reason and not actor.has_role("manager"):
        raise PermissionDenied(_("Only a manager releases goods before they are paid for."))
    now = now or utcnow()
    pickup = CustodyPickup(customer_id=customer.id, collected_by=(collected_by or "").strip()[:40],
                           relation=(relation or "").strip()[:20],
                           event_id=event.id if event else None,
                           released_by_id=actor.id if release_reason else None,
                           release_reason=release_reason[:200], actor_id=actor.id, at=now,
                           token=token or None)
    pickup, new = add_once(pickup)  # the first write: a duplicate sent at once stops here
    if not new:
        return pickup
    pickup.number = f"TH{local_day(now):%Y%m%d}-{pickup.id:05d}"
    today = local_day(now)
    shelves, handed_to = {}, [None]

    def hand_over(figure, quantity, product, warehouse, field, **links):
        """The goods off the custody shelf, batch by batch, first expiry first."""
        batches = sorted((figure.batches[b] for b in figure.balances),
                         key=lambda b: (b.expiry_date is None, b.expiry_date, b.id))
        left = quantity
        for batch in batches:
            if not left:
                break
            if batch.is_expired(today):
                continue
            if warehouse.id not in shelves:  # looked up once per pickup, not per batch
                shelves[warehouse.id] = inv.location_of(warehouse, "custody")
            if handed_to[0] is None:
                handed_to[0] = inv.outside("customer")
            share = min(left, figure.balances[batch.id])
            inv.take(product=product, quantity=share, source=shelves[warehouse.id],
                     target=handed_to[0], reason="custody_pickup", actor=actor,
                     batch=batch, customer=customer, event=event,
                     document=(DOCUMENT, pickup.id), note=pickup.number, now=now)
            _entry(kind="pickup", customer_id=customer.id, product=product, batch=batch,
                   warehouse_id=warehouse.id, quantity=-share, actor=actor, pickup=pickup,
                   note=pickup.number, now=now, **links)
            left -= share
        if left:
            raise Conflict(_("%(name)s: the goods held have expired and cannot be handed over; "
                             "the warehouse replaces them.", name=product.name), field=field)

    redeemed = {key: n for key, n in quantities.items() if isinstance(key, tuple)}
    quantities = {key: n for key, n in quantities.items() if not isinstance(key, tuple)}
    # Read once, set-based: the lines asked for with their orders locked, then every line's
    # balances (read under the locks, used for both the balance check and the release rule).
    lines = _lines_locked({int(line_id) for line_id in quantities if isinstance(line_id, int)})
    figures = line_figures(CustodyEntry.order_line_id.in_(list(lines))) if lines else {}
    for line_id, quantity in sorted(quantities.items()):
        line, order = lines.get(line_id, (None, None)) if isinstance(line_id, int) \
            else (None, None)
        if line is None or order.customer_id != customer.id:
            raise NotFound(_("That order line is not this customer's."))
        inv.check_quantity(quantity, f"line-{line_id}")
        figure = figures.get(line.id) or LineFigures()
        held = figure.held
        if quantity > held:
            raise Conflict(_("%(name)s: only %(n)s held for this customer.",
                             name=line.product.name, n=held), field=f"line-{line_id}")
        allowed = may_collect(order, figure)
        if quantity > allowed and not release_reason:
            raise Conflict(_("%(name)s: %(n)s may be collected now — %(paid)s of %(worth)s is "
                             "paid on %(number)s.", name=line.product.name, n=allowed,
                             paid=fen(order.paid), worth=fen(order.total -
                                                             order.returned_value),
                             number=order.number), field=f"line-{line_id}")
        hand_over(figure, quantity, line.product, db.session.get(inv.Warehouse,
                                                                 order.warehouse_id),
                  f"line-{line_id}", order_id=order.id, order_line_id=line.id)
    if redeemed:
        from models.points import Redemption
        # The redemptions locked (PostgreSQL; SQLite serialises writers), then their balances.
        locked = {r.id: r for r in db.session.scalars(
            select(Redemption).where(Redemption.id.in_({key[0] for key in redeemed}),
                                     Redemption.customer_id == customer.id)
            .order_by(Redemption.id).with_for_update(of=Redemption))}
        held_now = redeemed_figures(CustodyEntry.redemption_id.in_(list(locked))) \
            if locked else {}
        for (redemption_id, product_id), quantity in sorted(redeemed.items()):
            field = f"redeemed-{redemption_id}-{product_id}"
            if redemption_id not in locked:
                raise NotFound(_("That redemption is not this customer's."))
            inv.check_quantity(quantity, field)
            figure = held_now.get((redemption_id, product_id)) or LineFigures()
            product = db.session.get(inv.Product, product_id)
            if quantity > figure.held:
                raise Conflict(_("%(name)s: only %(n)s held for this customer.",
                                 name=product.name if product else "—", n=figure.held),
                               field=field)
            hand_over(figure, quantity, product,
                      db.session.get(inv.Warehouse, locked[redemption_id].warehouse_id), field,
                      redemption_id=redemption_id)
    db.session.flush()
    audit(actor, "custody.pickup", pickup, summary=f"{pickup.number} {customer.name}", now=now)
    return pickup


def reverse_entry(entry, *, reason, actor, now=None):
    """Undo a pickup entry recorded by mistake (the goods were not handed over): they go back on
    the custody shelf and the balance."""
    if not actor.has_role("warehouse", "manager"):
        raise PermissionDenied(_("Only the warehouse or a manager corrects custody."))
    if entry.kind != "pickup":
        raise Conflict(_("Only a pickup can be reversed here; returns go through the order."))
    if not (reason or "").strip():
        raise InvalidInput(_("Say why the entry is reversed."), field="reason")
    entry = lock_row(entry)
    if db.session.scalar(select(CustodyEntry.id).where(CustodyEntry.reverses_id == entry.id)):
        raise Conflict(_("This entry has already been reversed."))
    now = now or utcnow()
    for move in db.session.scalars(select(inv.StockMove).where(
            inv.StockMove.document_type == DOCUMENT, inv.StockMove.document_id == entry.pickup_id,
            inv.StockMove.batch_id == entry.batch_id,
            inv.StockMove.product_id == entry.product_id,
            inv.StockMove.reverses_id.is_(None))):
        if not db.session.scalar(select(inv.StockMove.id).where(
                inv.StockMove.reverses_id == move.id)):
            inv.reverse(move, actor=actor, note=reason, now=now)
            break
    reversal = _entry(kind="reversal", customer_id=entry.customer_id, product=entry.product,
                      batch=entry.batch, warehouse_id=entry.warehouse_id,
                      quantity=-entry.quantity, actor=actor, order_id=entry.order_id,
                      order_line_id=entry.order_line_id, redemption_id=entry.redemption_id,
                      pickup=None, reverses=entry,
                      note=reason.strip(), now=now)
    db.session.flush()
    audit(actor, "custody.reverse",
          summary=f"{entry.product.name} {entry.quantity}: {reason.strip()}", now=now)
    return reversal


# --- Reads -----------------------------------------------------------------------------------

def custody_customers(user):
    """A select of the customers whose goods the user may hand over or look at: the user's
    customer scope; for event staff, the customers invited to the events they staff now."""
    from models.customers import Customer, visible_customers
    from models.events import Event, Invitation, event_staff
    if user.has_role("admin", "manager", "warehouse", "finance", "dept_head", "marketer"):
        return visible_customers(user)
    if user.has_role("event_staff"):
        events = select(event_staff.c.event_id).join(Event, Event.id == event_staff.c.event_id) \
            .where(event_staff.c.user_id == user.id,
                   Event.status.in_(("open", "in_progress")))
        return select(Customer).where(Customer.id.in_(
            select(Invitation.customer_id).where(Invitation.event_id.in_(events))))
    return select(Customer).where(Customer.id.is_(None))


def seen_customer_ids(user, customer_ids):
    """The ids among `customer_ids` of the customers `user` may see (custody_customers): whom a
    page about another customer may name."""
    if not customer_ids:
        return set()
    return set(db.session.scalars(custody_customers(user).with_only_columns(Customer.id)
                                  .where(Customer.id.in_(set(customer_ids)))))


def find_holders(user, text, limit=20):
    """Customers holding goods, found as at the door (name, pinyin, phone tail)."""
    from models.customers import Customer, search_clause
    clause = search_clause(text)
    if clause is None:
        return []
    # Only the balances of the customers the search matched are summed, not the whole ledger.
    holding = select(CustodyEntry.customer_id).where(
        CustodyEntry.customer_id.in_(select(Customer.id).where(clause))).group_by(
        CustodyEntry.customer_id).having(func.sum(CustodyEntry.quantity) > 0)
    return db.session.scalars(custody_customers(user).where(clause, Customer.id.in_(holding))
                              .order_by(Customer.name_pinyin).limit(limit)).all()


def get_holder_or_404(customer_id, user):
    from models.customers import Customer
    customer = db.session.scalar(custody_customers(user).where(Customer.id == customer_id)) \
        if isinstance(customer_id, int) and 0 < customer_id < 2**31 else None
    if customer is None:
        raise NotFound(_("Not found, or not yours to see."))
    return customer


def entries_of(customer):
    return db.session.scalars(select(CustodyEntry).where(CustodyEntry.customer_id ==
                                                         customer.id)
                              .order_by(CustodyEntry.at, CustodyEntry.id)).all()


def balances_by_product(customer):
    """[(product, held)] of a customer, products still held."""
    rows = db.session.execute(select(inv.Product, func.sum(CustodyEntry.quantity))
                              .join(inv.Product, CustodyEntry.product_id == inv.Product.id)
                              .where(CustodyEntry.customer_id == customer.id)
                              .group_by(inv.Product.id).order_by(inv.Product.name)).all()
    return [(product, held) for product, held in rows if held]


def not_collected(today, days=None):
    """Customers holding goods who have not collected (nor deposited) for `days` days (the
    setting by default): [(customer_id, last activity, units held)] — the scheduler's pickup
    reminders."""
    days = get_setting("custody.remind_after_days") if days is None else days
    since = datetime.combine(today - timedelta(days=days), datetime.min.time(),
                             tzinfo=utcnow().tzinfo)
    rows = db.session.execute(
        select(CustodyEntry.customer_id, func.max(CustodyEntry.at),
               func.sum(CustodyEntry.quantity))
        .group_by(CustodyEntry.customer_id)
        .having(func.sum(CustodyEntry.quantity) > 0)
        .having(func.max(CustodyEntry.at) < since)
        .order_by(func.max(CustodyEntry.at))).all()
    return [tuple(row) for row in rows]


def expiring_held(today, within_days=None):
    """Held goods whose batch expires within N days (or has expired): [(customer, product, batch,
    held)] soonest first."""
    from models.customers import Customer
    days = get_setting("inventory.near_expiry_days") if within_days is None else within_days
    rows = db.session.execute(
        select(Customer, inv.Product, inv.Batch, func.sum(CustodyEntry.quantity))
        .join(Customer, CustodyEntry.customer_id == Customer.id)
        .join(inv.Product, CustodyEntry.product_id == inv.Product.id)
        .join(inv.Batch, CustodyEntry.batch_id == inv.Batch.id)
        .where(inv.Batch.expiry_date <= today + timedelta(days=days))
        .group_by(Customer.id, inv.Product.id, inv.Batch.id)
        .order_by(inv.Batch.expiry_date)).all()
    return [tuple(row) for row in rows if row[3]]


def report_by_marketer(department_id=None):
    """Per marketer (the customer's owner): customers holding, units held, value at cost, the
    oldest holding still open."""
    from models.accounts import User
    from models.customers import Customer
    from models.scoping import department_subtree
    per_customer = (select(CustodyEntry.customer_id, CustodyEntry.batch_id,
                           func.sum(CustodyEntry.quantity).label("held"),
                           func.min(CustodyEntry.at).label("since"))
                    .group_by(CustodyEntry.customer_id, CustodyEntry.batch_id)
                    .having(func.sum(CustodyEntry.quantity) > 0).subquery())
    query = (select(User.display_name, func.count(func.distinct(per_customer.c.customer_id)),
                    func.sum(per_customer.c.held),
                    func.sum(per_customer.c.held * inv.Batch.unit_cost),
                    func.min(per_customer.c.since))
             .select_from(per_customer)
             .join(Customer, Customer.id == per_customer.c.customer_id)
             .join(inv.Batch, inv.Batch.id == per_customer.c.batch_id)
             .outerjoin(User, User.id == Customer.owner_id)
             .group_by(User.id, User.display_name).order_by(User.display_name))
    if department_id:
        query = query.where(Customer.department_id.in_(department_subtree(department_id)))
    return db.session.execute(query).all()


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


def _register_check():
    from models.ledgers import register_check
    register_check("custody")(check_custody)


_register_check()

"""Custody's operations: goods deposited with an order or a redemption, or held since before the
move-in (期初寄存), the release rule (what may be collected, by what is paid), the customer's
holdings, pickups, returns out of custody, and reversals. The caller commits."""
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm import Load, lazyload

from extensions import db
from formatting import fen
from models import inventory as inv
from models.audit import audit
from models.base import Conflict, InvalidInput, NotFound, PermissionDenied, add_once, lock_row, \
    utcnow
from models.clock import document_number, local_day
from models.custody.tables import (DOCUMENT, EARLY_RELEASE_ROLES, PICKUP_ROLES, CustodyEntry,
                                   CustodyPickup, OpeningHolding)
# Custody holds the goods of order lines and of redemptions, and releases an order's goods by
# what is paid on it: it reads those tables (a documented exception in .importlinter).
from models.orders import Order, OrderLine
from models.points import Redemption
from models.settings import get_setting


# --- Writing ---------------------------------------------------------------------------------

def _entry(*, kind, customer_id, product, batch, warehouse_id, quantity, actor, order_id=None,
           order_line_id=None, pickup=None, reverses=None, note="", now=None,
           redemption_id=None, opening_holding_id=None, stock_move=None):
    """One ledger entry; `batch` None for a pooled warehouse's promise, `stock_move` the move
    that handed pooled goods over (or took them back)."""
    entry = CustodyEntry(kind=kind, customer_id=customer_id, order_id=order_id,
                         order_line_id=order_line_id, redemption_id=redemption_id,
                         opening_holding_id=opening_holding_id, product_id=product.id,
                         batch_id=batch.id if batch else None,
                         warehouse_id=warehouse_id, quantity=quantity, actor_id=actor.id,
                         pickup_id=pickup.id if pickup else None,
                         reverses_id=reverses.id if reverses else None,
                         stock_move_id=stock_move.id if stock_move else None,
                         note=(note or "")[:200], at=now or utcnow())
    db.session.add(entry)
    return entry


def is_pooled(warehouse):
    return warehouse.custody_mode == "pooled"


def deposit(order, line, *, actor, now=None):
    """Goods of an order line left with the company: moved onto the warehouse's custody shelf
    (first expiry first, never an expired batch) and credited to the customer, batch by batch.
    In a pooled warehouse the goods stay in stock: one entry without a batch, the promise.
    Called by create_order for the line's held quantity."""
    if line.order_id != order.id or not line.held:
        raise InvalidInput(_("This order line holds nothing to leave in custody."),
                           field="held")
    warehouse = db.session.get(inv.Warehouse, order.warehouse_id)
    if is_pooled(warehouse):
        inv.check_quantity(line.held)
        return [_entry(kind="deposit", customer_id=order.customer_id, product=line.product,
                       batch=None, warehouse_id=warehouse.id, quantity=line.held, actor=actor,
                       order_id=order.id, order_line_id=line.id, note=order.number,
                       now=now)]
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
    redemption, batch by batch. Returns the stock moves (their value is the goods' cost): none
    in a pooled warehouse, where the goods stay in stock and the entry is a promise."""
    if is_pooled(warehouse):
        inv.check_quantity(quantity)
        _entry(kind="deposit", customer_id=redemption.customer_id, product=product, batch=None,
               warehouse_id=warehouse.id, quantity=quantity, actor=actor,
               redemption_id=redemption.id, note=redemption.number, now=now)
        return []
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


def _grouped_figures(keys, condition):
    """{key: LineFigures} of the entries matching `condition` grouped by the columns `keys`
    (the first one not NULL): the key is the one value, or a tuple of them. One grouped
    query; batches holding nothing any more dropped."""
    figures = {}
    for *key, kind, quantity, batch in db.session.execute(
            select(*keys, CustodyEntry.kind, func.sum(CustodyEntry.quantity), inv.Batch)
            .outerjoin(inv.Batch, inv.Batch.id == CustodyEntry.batch_id)
            .where(condition, keys[0].is_not(None))
            .group_by(*keys, CustodyEntry.kind, inv.Batch.id)):
        figures.setdefault(key[0] if len(key) == 1 else tuple(key),
                           LineFigures()).add(kind, quantity, batch)
    for figure in figures.values():
        figure.drop_empty()
    return figures


def redeemed_figures(condition):
    """{(redemption_id, product_id): LineFigures} of goods redeemed into custody whose entries
    match `condition`, in one grouped query (they are paid for: all of it may be collected)."""
    figures = _grouped_figures((CustodyEntry.redemption_id, CustodyEntry.product_id), condition)
    return {key: figure for key, figure in figures.items() if figure.balances}


def opening_figures(condition):
    """{opening holding id: LineFigures} of the holdings brought from the old system whose
    entries match `condition` and still hold something, in one grouped query."""
    figures = _grouped_figures((CustodyEntry.opening_holding_id,), condition)
    return {key: figure for key, figure in figures.items() if figure.balances}


# --- Held since before the move-in (期初寄存) --------------------------------------------------

def deposit_opening(customer, product, quantity, *, warehouse, is_paid, actor, held_since=None,
                    batch_number="", expiry_date=None, unit_cost=None, note="", now=None):
    """Goods the customer already held with the company when it moved in: a holding of their
    own, received onto the warehouse's custody shelf by a stock move of reason "opening" (into
    the batch named, made with its expiry and cost; by default one batch per product for
    such goods) and credited to the customer. In a pooled warehouse nothing moves: the entry
    is a promise on the stock, as a pooled deposit is (the goods themselves are counted in the
    warehouse's opening stock). Returns the holding."""
    inv.check_quantity(quantity)
    now = now or utcnow()
    holding = OpeningHolding(customer_id=customer.id, product_id=product.id,
                             warehouse_id=warehouse.id, quantity=quantity, is_paid=bool(is_paid),
                             held_since=held_since, note=(note or "")[:200],
                             created_by_id=actor.id, created_at=now)
    db.session.add(holding)
    db.session.flush()
    if is_pooled(warehouse):
        _entry(kind="deposit", customer_id=customer.id, product=product, batch=None,
               warehouse_id=warehouse.id, quantity=quantity, actor=actor,
               opening_holding_id=holding.id, note=note, now=now)
        return holding
    if not (batch_number or "").strip() and expiry_date is None:
        batch_number = _("opening custody")
    move = inv.receive(product=product, quantity=quantity, warehouse=warehouse, actor=actor,
                       batch_number=batch_number, expiry_date=expiry_date, unit_cost=unit_cost,
                       document=(OpeningHolding.__tablename__, holding.id), reason="opening",
                       shelf="custody", customer=customer, note=note, now=now)
    _entry(kind="deposit", customer_id=customer.id, product=product, batch=move.batch,
           warehouse_id=warehouse.id, quantity=quantity, actor=actor,
           opening_holding_id=holding.id, note=note, now=now)
    return holding


def take_back_opening(holding, *, actor, reason, now=None):
    """An opening holding imported by mistake: its deposit undone (the goods off the custody
    shelf by the receipt's reversal, the customer's balance back to zero). Refused once any of
    it was picked up, even if that pickup was reversed since: the holding has a history."""
    holding = lock_row(holding)
    entries = db.session.scalars(select(CustodyEntry).where(
        CustodyEntry.opening_holding_id == holding.id).order_by(CustodyEntry.id)).all()
    if any(entry.kind != "deposit" for entry in entries):
        raise Conflict(_("%(name)s held since before the move-in has been collected from: it "
                         "stays.", name=holding.product.name))
    for move in db.session.scalars(select(inv.StockMove).where(
            inv.StockMove.document_type == OpeningHolding.__tablename__,
            inv.StockMove.document_id == holding.id, inv.StockMove.reverses_id.is_(None))
            .order_by(inv.StockMove.id)):
        inv.reverse(move, actor=actor, note=reason, now=now)
    for entry in entries:
        _entry(kind="reversal", customer_id=entry.customer_id, product=entry.product,
               batch=entry.batch, warehouse_id=entry.warehouse_id, quantity=-entry.quantity,
               actor=actor, opening_holding_id=holding.id, reverses=entry, note=reason,
               now=now)
    db.session.flush()


def may_collect_opening(holding, figure):
    """The release rule of goods held since before the move-in: all of it when the old system
    had them paid for, none otherwise (a manager may release them early, with a reason)."""
    return figure.held if holding.is_paid and figure.held > 0 else 0


@dataclass
class LineFigures:
    """What the ledger says of one order line: the balance per batch (batches still holding
    something; one balance under None for a pooled warehouse's promise), the units deposited,
    the units collected (pickups less their reversals), and the batches themselves."""
    balances: dict = field(default_factory=dict)
    deposited: int = 0
    collected: int = 0
    batches: dict = field(default_factory=dict)

    @property
    def held(self):
        return sum(self.balances.values())

    @property
    def pooled(self):
        """Whether the goods are a promise on a pooled warehouse's stock (no batch set aside)."""
        return None in self.balances

    def add(self, kind, quantity, batch):
        """Count the entries of one kind and batch (a sum of their quantities; batch None: a
        pooled promise)."""
        key = batch.id if batch is not None else None
        self.balances[key] = self.balances.get(key, 0) + quantity
        self.batches[key] = batch
        if kind == "deposit":
            self.deposited += quantity
        elif kind in ("pickup", "reversal"):
            self.collected -= quantity

    def drop_empty(self):
        """Forget the batches that hold nothing any more."""
        self.balances = {batch_id: held for batch_id, held in self.balances.items() if held}


def line_figures(condition):
    """{order_line_id: LineFigures} of the lines whose entries match `condition` (a clause on
    CustodyEntry: one line, a pickup's lines, a customer's lines), in one grouped query."""
    return _grouped_figures((CustodyEntry.order_line_id,), condition)


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
    back on the shelf. In a pooled warehouse only the promise goes down: the goods never left
    stock. Returns the quantity taken out."""
    balances = line_balances(line.id)
    if None in balances:
        share = min(quantity, balances[None])
        if share > 0:
            _entry(kind="return", customer_id=order.customer_id, product=line.product,
                   batch=None, warehouse_id=order.warehouse_id, quantity=-share, actor=actor,
                   order_id=order.id, order_line_id=line.id, note=order.number, now=now)
        return max(share, 0)
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


def order_holdings(order):
    """{line id: (held now, may be collected now)} for the lines of `order` still holding
    something, from the custody ledger (pickups and returns counted), in one query."""
    figures = line_figures(CustodyEntry.order_line_id.in_([line.id for line in order.lines]))
    return {line_id: (figure.held, may_collect(order, figure))
            for line_id, figure in figures.items() if figure.held > 0}


def pickable(order, line):
    """How much of a line the customer may collect now: what is held, limited by what is paid
    (in proportion, or nothing until paid in full — the setting)."""
    return may_collect(order, _figures_of(line.id))


def _expiry_flags(figure, today, near):
    # A pooled promise has no batch: it is issued in date when collected.
    expiries = [figure.batches[batch_id].expiry_date for batch_id in figure.balances
                if batch_id is not None]
    expiries = [e for e in expiries if e]
    nearest = min(expiries) if expiries else None
    return {"expiry": nearest, "near_expiry": nearest is not None and nearest <= near,
            "expired": nearest is not None and nearest < today}


def holdings(customer):
    """The customer's held goods, one row per order line still holding something: order, line,
    product, held, pickable, paid, due, the nearest expiry among its batches, and `key` (the
    pickup form's field); then one row per product of a redemption left in custody (redemption
    instead of order and line; paid for with points, so all of it may be collected); then one
    row per holding brought from the old system (`opening` instead: all of it may be collected
    when it was paid for there, none otherwise). A few set-based queries whatever the number
    of lines: the figures, the lines, their orders."""
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
            rows.append({"order": order, "line": line, "redemption": None, "opening": None,
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
                         "redemption": redemptions[redemption_id], "opening": None,
                         "product": products[product_id],
                         "key": f"redeemed-{redemption_id}-{product_id}",
                         "held": figure.held, "pickable": figure.held, "paid": None, "due": 0,
                         **_expiry_flags(figure, today, near)})
    brought = opening_figures(CustodyEntry.customer_id == customer.id)
    if brought:
        for holding in db.session.scalars(select(OpeningHolding).where(
                OpeningHolding.id.in_(list(brought))).order_by(OpeningHolding.id)):
            figure = brought[holding.id]
            rows.append({"order": None, "line": None, "redemption": None, "opening": holding,
                         "product": holding.product, "key": f"opening-{holding.id}",
                         "held": figure.held,
                         "pickable": may_collect_opening(holding, figure), "paid": None,
                         "due": 0, **_expiry_flags(figure, today, near)})
    return rows


# --- Pickup ----------------------------------------------------------------------------------

def _lines_locked(line_ids):
    """{line id: (line, order)} of these order lines, their orders locked (FOR UPDATE on
    PostgreSQL, in id order; on SQLite the write transaction already serialises writers) and
    re-read as `lock_order` does, in one query and without the orders' relationships."""
    if not line_ids:
        return {}
    rows = db.session.execute(
        select(OrderLine, Order).join(Order, Order.id == OrderLine.order_id)
        .where(OrderLine.id.in_(line_ids)).order_by(Order.id, OrderLine.id)
        .options(Load(Order).lazyload("*")).with_for_update(of=Order)
        .execution_options(populate_existing=True))
    return {line.id: (line, order) for line, order in rows}


def pick_up(customer, quantities, *, actor, token, collected_by="", relation="", event=None,
            release_reason="", opening=None, now=None):
    """Hand held goods over: quantities = {order_line_id: n, (redemption_id, product_id): n}
    (goods redeemed with points into custody), opening = {opening holding id: n} (goods held
    since before the move-in). Each line is checked against its balance and the release rule
    (a manager may release early with a reason), the goods leave the custody shelf first
    expiry first (never an expired batch), and one pickup slip records the visit."""
    if not actor.has_role(*PICKUP_ROLES):
        raise PermissionDenied(_("Pickups are handed over by the warehouse, or by event staff "
                                 "at an event."))
    if token and (prior := CustodyPickup.by_token(token)) is not None:
        return prior
    quantities = {line_id: n for line_id, n in quantities.items() if n}
    opening = {holding_id: n for holding_id, n in (opening or {}).items() if n}
    if not quantities and not opening:
        raise InvalidInput(_("Enter how many of each to hand over."), field="quantities")
    release_reason = (release_reason or "").strip()
    if release_reason and not actor.has_role(*EARLY_RELEASE_ROLES):
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
    pickup.number = document_number("TH", now, pickup.id)
    today = local_day(now)
    shelves, handed_to = {}, [None]

    def hand_over(figure, quantity, product, warehouse, field, **links):
        """The goods off the custody shelf, batch by batch, first expiry first; a pooled
        promise from the warehouse's stock, first expiry first like a sale."""
        if figure.pooled:
            try:
                moves = inv.issue(product=product, quantity=quantity, warehouse=warehouse,
                                  reason="custody_pickup", actor=actor, customer=customer,
                                  event=event, document=(DOCUMENT, pickup.id),
                                  note=pickup.number, now=now)
            except Conflict as exc:
                exc.field = field
                raise
            for move in moves:
                _entry(kind="pickup", customer_id=customer.id, product=product, batch=None,
                       warehouse_id=warehouse.id, quantity=-move.quantity, actor=actor,
                       pickup=pickup, note=pickup.number, now=now, stock_move=move, **links)
            return
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
    if opening:
        # The holdings locked (PostgreSQL; SQLite serialises writers), then their balances.
        holdings_locked = {h.id: h for h in db.session.scalars(
            select(OpeningHolding).where(OpeningHolding.id.in_(
                {h for h in opening if isinstance(h, int)}),
                OpeningHolding.customer_id == customer.id)
            .order_by(OpeningHolding.id).with_for_update(of=OpeningHolding)
            .execution_options(populate_existing=True))}
        held_now = opening_figures(CustodyEntry.opening_holding_id.in_(list(holdings_locked))) \
            if holdings_locked else {}
        for holding_id, quantity in sorted(opening.items()):
            field = f"opening-{holding_id}"
            holding = holdings_locked.get(holding_id)
            if holding is None:
                raise NotFound(_("That holding is not this customer's."))
            inv.check_quantity(quantity, field)
            figure = held_now.get(holding_id) or LineFigures()
            if quantity > figure.held:
                raise Conflict(_("%(name)s: only %(n)s held for this customer.",
                                 name=holding.product.name, n=figure.held), field=field)
            if quantity > may_collect_opening(holding, figure) and not release_reason:
                raise Conflict(_("%(name)s was not paid for in the old system: only a manager "
                                 "releases it, with a reason.", name=holding.product.name),
                               field=field)
            hand_over(figure, quantity, holding.product,
                      db.session.get(inv.Warehouse, holding.warehouse_id), field,
                      opening_holding_id=holding.id)
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
    warehouse = db.session.get(inv.Warehouse, entry.warehouse_id)
    if (entry.batch_id is None) != is_pooled(warehouse):
        raise Conflict(_("%(name)s has changed how it keeps goods held for customers since "
                         "this pickup: take the goods back as a return instead.",
                         name=warehouse.name))
    if entry.batch_id is None:  # pooled: the goods go back into stock, the promise back up
        move = inv.reverse(db.session.get(inv.StockMove, entry.stock_move_id), actor=actor,
                           note=reason, now=now)
        reversal = _entry(kind="reversal", customer_id=entry.customer_id,
                          product=entry.product, batch=None, warehouse_id=entry.warehouse_id,
                          quantity=-entry.quantity, actor=actor, order_id=entry.order_id,
                          order_line_id=entry.order_line_id,
                          redemption_id=entry.redemption_id,
                          opening_holding_id=entry.opening_holding_id, reverses=entry,
                          stock_move=move, note=reason.strip(), now=now)
        db.session.flush()
        audit(actor, "custody.reverse",
              summary=f"{entry.product.name} {entry.quantity}: {reason.strip()}", now=now)
        return reversal
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
                      opening_holding_id=entry.opening_holding_id, pickup=None, reverses=entry,
                      note=reason.strip(), now=now)
    db.session.flush()
    audit(actor, "custody.reverse",
          summary=f"{entry.product.name} {entry.quantity}: {reason.strip()}", now=now)
    return reversal

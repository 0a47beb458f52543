"""The stock ledger's operations: receive, issue, transfer, scrap, take back, reverse.

These are the only way stock changes; orders, gifts, points redemption and custody pickups call
them. Each one locks the balances it reads (SELECT … FOR UPDATE on PostgreSQL; SQLite serialises
writers), refuses to take stock below zero unless the setting allows it, writes its moves and
updates the cached balances in the caller's transaction. The caller commits.
"""
from datetime import timedelta

from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import lazyload

from extensions import db
from models.base import Conflict, InvalidInput, NotFound, utcnow
from models.clock import local_day
from models.inventory.tables import (INTERNAL_KINDS, NO_EXPIRED_REASONS, REASONS, Batch,
                                     Location, Product, StockMove, StockQuant, Warehouse)
from models.settings import get_setting

#: Reasons `issue` may give, and where the goods go.
ISSUE_DESTINATIONS = {"sale_issue": "customer", "gift_issue": "customer",
                      "redemption_issue": "customer", "custody_pickup": "customer",
                      "scrap": "scrap"}
MAX_QUANTITY = 1_000_000

#: Readers of what customers are promised out of warehouses' free stock (pooled custody), each
#: reader(warehouse_id=None, product_ids=None) -> {(warehouse_id, product_id): promised}. The
#: custody area registers its ledger's (the stock ledger reads nothing above it).
PROMISE_READERS = []


class BelowPromise(Conflict):
    """An issue from a pooled warehouse that would leave less on hand than customers are
    promised: done only on a second confirmation (field confirm_below_promise)."""


# --- Locations ---------------------------------------------------------------------------------

def location_of(warehouse, kind="stock"):
    """A warehouse's free stock ("stock") or custody shelf ("custody")."""
    location = db.session.scalar(select(Location).where(Location.warehouse_id == warehouse.id,
                                                        Location.kind == kind))
    if location is None:  # a warehouse always has both; made with it (create_warehouse)
        raise NotFound(_("This warehouse has no %(kind)s location.", kind=kind))
    return location


def outside(kind):
    """The one location of the outside world of this kind: supplier, customer, scrap,
    adjustment (seeded by the migration; made here if missing)."""
    query = select(Location).where(Location.warehouse_id.is_(None), Location.kind == kind)
    location = db.session.scalar(query)
    if location is None:
        try:
            with db.session.begin_nested():
                location = Location(warehouse_id=None, kind=kind)
                db.session.add(location)
        except IntegrityError:  # made by a concurrent writer
            location = db.session.scalar(query)
    return location


# --- Checks ----------------------------------------------------------------------------------

def check_quantity(quantity, field="quantity"):
    if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity <= 0:
        raise InvalidInput(_("The quantity must be a whole number above zero."), field=field)
    if quantity > MAX_QUANTITY:
        raise InvalidInput(_("The quantity is too large."), field=field)
    return quantity


def _check_product(product, field="product"):
    if product is None:
        raise InvalidInput(_("Choose a product."), field=field)
    if not product.is_active:
        raise Conflict(_("%(name)s is no longer in use.", name=product.name), field=field)


def _check_warehouse(warehouse, field="warehouse"):
    if warehouse is None:
        raise InvalidInput(_("Choose a warehouse."), field=field)
    if not warehouse.is_active:
        raise Conflict(_("Warehouse %(name)s is closed.", name=warehouse.name), field=field)


def negative_allowed():
    return bool(get_setting("inventory.allow_negative_stock"))


# --- Balances, locked --------------------------------------------------------------------------

def _lock_quant(location_id, product_id, batch_id):
    """The balance row of a batch in a location, locked; created (at 0) when missing."""
    query = select(StockQuant).where(StockQuant.location_id == location_id,
                                     StockQuant.product_id == product_id,
                                     StockQuant.batch_id == batch_id).options(
        lazyload("*")).with_for_update(of=StockQuant)
    quant = db.session.scalar(query)
    if quant is None:
        try:
            with db.session.begin_nested():
                quant = StockQuant(location_id=location_id, product_id=product_id,
                                   batch_id=batch_id, quantity=0)
                db.session.add(quant)
        except IntegrityError:  # created by a concurrent move a moment ago
            quant = db.session.scalar(query.execution_options(populate_existing=True))
    return quant


def _write_move(*, product, batch, source, target, quantity, reason, actor, document=None,
                customer=None, event=None, note="", reverses=None, now=None):
    """Move `quantity` of `batch` from `source` to `target`, locking and updating the balances
    of the internal locations involved (in id order, so two moves never wait on each other)."""
    check_quantity(quantity)
    if source.id == target.id:
        raise InvalidInput(_("Goods must move somewhere else."), field="to_warehouse")
    quants = {}
    for location in sorted((source, target), key=lambda loc: loc.id):
        if location.kind in INTERNAL_KINDS:
            quants[location.id] = _lock_quant(location.id, product.id, batch.id)
    if source.id in quants:
        available = quants[source.id].quantity
        if available < quantity and not negative_allowed():
            raise Conflict(_("Only %(n)s %(unit)s of %(name)s (batch %(batch)s) in %(place)s; "
                             "%(wanted)s cannot be taken.", n=available, unit=product.unit,
                             name=product.name, batch=batch_label(batch),
                             place=source.label, wanted=quantity), field="quantity")
        quants[source.id].quantity -= quantity
    if target.id in quants:
        quants[target.id].quantity += quantity
    document_type, document_id = document or ("", None)
    move = StockMove(product=product, batch=batch, from_location=source, to_location=target,
                     quantity=quantity, unit_cost=batch.unit_cost,
                     reason=reason, document_type=document_type, document_id=document_id,
                     customer_id=_id(customer), event_id=_id(event), note=(note or "")[:200],
                     reverses_id=reverses.id if reverses else None,
                     actor_id=actor.id if actor else None, at=now or utcnow())
    db.session.add(move)
    db.session.flush()
    return move


def _id(record):
    """A record's id; ids pass through (a reversal copies them from the move)."""
    return record if record is None or isinstance(record, int) else record.id


def batch_label(batch):
    if batch.number:
        return batch.number
    return _("no batch number")


# --- Batches ---------------------------------------------------------------------------------

def find_or_make_batch(product, number="", *, produced_on=None, expiry_date=None,
                       unit_cost=None, field_prefix=""):
    """The product's batch with this number, made on first receipt. A batch keeps the dates it
    was first received with: a receipt that gives other dates is refused."""
    number = (number or "").strip()[:40]
    for value, field in ((produced_on, "produced_on"), (expiry_date, "expiry_date")):
        if value is not None and not 1990 <= value.year <= 2200:
            raise InvalidInput(_("Enter a real date."), field=f"{field_prefix}{field}")
    if produced_on and expiry_date and expiry_date < produced_on:
        raise InvalidInput(_("The expiry date is before the production date."),
                           field=f"{field_prefix}expiry_date")
    if expiry_date is None and produced_on and product.shelf_life_days:
        expiry_date = produced_on + timedelta(days=product.shelf_life_days)
    if not number and expiry_date:
        number = _("exp. %(date)s", date=expiry_date.strftime("%Y%m%d"))
    batch = db.session.scalar(select(Batch).where(Batch.product_id == product.id,
                                                  Batch.number == number))
    if batch is not None:
        if (expiry_date and batch.expiry_date and expiry_date != batch.expiry_date) or \
                (produced_on and batch.produced_on and produced_on != batch.produced_on):
            raise InvalidInput(_("Batch %(batch)s of %(name)s is already on record with other "
                                 "dates (expiry %(expiry)s).", batch=batch_label(batch),
                                 name=product.name, expiry=batch.expiry_date or "—"),
                               field=f"{field_prefix}batch_number")
        return batch
    cost = product.standard_cost if unit_cost is None else unit_cost
    if cost < 0:
        raise InvalidInput(_("The unit cost cannot be negative."), field=f"{field_prefix}unit_cost")
    try:
        with db.session.begin_nested():
            batch = Batch(product_id=product.id, number=number, produced_on=produced_on,
                          expiry_date=expiry_date, unit_cost=cost)
            db.session.add(batch)
    except IntegrityError:  # made by a concurrent receipt
        batch = db.session.scalar(select(Batch).where(Batch.product_id == product.id,
                                                      Batch.number == number))
    return batch


def batch_named(product, number):
    """The product's batch with this number (as printed on the box), or None."""
    return db.session.scalar(select(Batch).where(Batch.product_id == product.id,
                                                 Batch.number == (number or "").strip()[:40]))


# --- The operations --------------------------------------------------------------------------

def receive(*, product, quantity, warehouse, actor, batch_number="", produced_on=None,
            expiry_date=None, unit_cost=None, document=None, note="", now=None,
            reason="receipt", shelf="stock", customer=None):
    """Goods in from a supplier: one move supplier → the warehouse's free stock (reason
    "opening": the stock a company had when it moved in, models.opening). Opening goods held
    for a customer (shelf "custody", reason "opening", the customer named) go onto the
    warehouse's custody shelf instead: nothing else is received there."""
    _check_product(product)
    _check_warehouse(warehouse)
    check_quantity(quantity)
    if shelf not in INTERNAL_KINDS or (shelf == "custody" and reason != "opening"):
        raise InvalidInput(_("Only goods held for customers when the company moved in are "
                             "received onto the custody shelf."), field="shelf")
    batch = find_or_make_batch(product, batch_number, produced_on=produced_on,
                               expiry_date=expiry_date, unit_cost=unit_cost)
    return _write_move(product=product, batch=batch, source=outside("supplier"),
                       target=location_of(warehouse, shelf), quantity=quantity,
                       reason="opening" if reason == "opening" else "receipt", actor=actor,
                       document=document, customer=customer, note=note, now=now)


def available_batches(product, location, *, reason, today, batch=None):
    """[(quant, batch)] the goods can be taken from, first expiry first (batches without an
    expiry last), locked. Expired batches are left out for goods that go to a customer."""
    query = (select(StockQuant, Batch).join(Batch, StockQuant.batch_id == Batch.id)
             .where(StockQuant.location_id == location.id, StockQuant.product_id == product.id)
             .order_by(Batch.expiry_date.is_(None), Batch.expiry_date, Batch.id)
             .options(lazyload(StockQuant.location), lazyload(StockQuant.product),
                      lazyload(StockQuant.batch))
             .with_for_update(of=StockQuant))
    if batch is not None:
        query = query.where(StockQuant.batch_id == batch.id)
    rows = db.session.execute(query).all()
    if reason in NO_EXPIRED_REASONS:
        rows = [row for row in rows if not row.Batch.is_expired(today)]
    return rows


def take(*, product, quantity, source, target, reason, actor, batch=None, document=None,
         customer=None, event=None, note="", now=None):
    """Move goods out of an internal location, first expiry first unless `batch` is named;
    several batches when one is not enough. Returns the moves."""
    _check_product(product)
    check_quantity(quantity)
    now = now or utcnow()
    today = local_day(now)
    if batch is not None:
        if batch.product_id != product.id:
            raise InvalidInput(_("That batch is of another product."), field="batch")
        if reason in NO_EXPIRED_REASONS and batch.is_expired(today):
            raise Conflict(_("Batch %(batch)s of %(name)s expired on %(date)s and cannot be "
                             "given to a customer.", batch=batch_label(batch), name=product.name,
                             date=batch.expiry_date), field="batch")
    rows = available_batches(product, source, reason=reason, today=today, batch=batch)
    plan, left = [], quantity
    for row in rows:
        if left == 0:
            break
        share = min(left, max(row.StockQuant.quantity, 0))
        if share:
            plan.append((row.Batch, share))
            left -= share
    if left:
        if not (negative_allowed() and rows):
            on_hand = sum(max(row.StockQuant.quantity, 0) for row in rows)
            if reason in NO_EXPIRED_REASONS and batch is None:
                message = _("Only %(n)s %(unit)s of %(name)s in date in %(place)s; %(wanted)s "
                            "cannot be taken.", n=on_hand, unit=product.unit, name=product.name,
                            place=source.label, wanted=quantity)
            else:
                message = _("Only %(n)s %(unit)s of %(name)s in %(place)s; %(wanted)s cannot be "
                            "taken.", n=on_hand, unit=product.unit, name=product.name,
                            place=source.label, wanted=quantity)
            raise Conflict(message, field="quantity")
        last = rows[-1].Batch  # negative stock allowed: the rest from the last batch
        plan = [(b, q + left if b.id == last.id else q) for b, q in plan]
        if not any(b.id == last.id for b, _q in plan):
            plan.append((last, left))
    return [_write_move(product=product, batch=b, source=source, target=target, quantity=q,
                        reason=reason, actor=actor, document=document, customer=customer,
                        event=event, note=note, now=now) for b, q in plan]


def issue(*, product, quantity, warehouse, reason, actor, batch=None, customer=None, event=None,
          document=None, note="", confirm_below_promise=False, now=None):
    """Goods out of a warehouse: to a customer (sale, gift, redemption, custody pickup) or to
    scrap. Custody pickups come off the custody shelf in a reserved warehouse and off free
    stock in a pooled one (first expiry first, like a sale); the rest off free stock. In a
    pooled warehouse an issue other than a pickup that leaves less on hand than customers are
    promised is refused (BelowPromise) unless `confirm_below_promise`."""
    if reason not in ISSUE_DESTINATIONS:
        raise InvalidInput(_("Unknown reason for an issue."), field="reason")
    _check_warehouse(warehouse)
    shelf = "stock"
    if reason == "custody_pickup" and warehouse.custody_mode != "pooled":
        shelf = "custody"
    moves = take(product=product, quantity=quantity, source=location_of(warehouse, shelf),
                 target=outside(ISSUE_DESTINATIONS[reason]), reason=reason, actor=actor,
                 batch=batch, document=document, customer=customer, event=event, note=note,
                 now=now)
    if reason != "custody_pickup" and not confirm_below_promise:
        check_promise(warehouse, product)
    return moves


def transfer(*, product, quantity, from_warehouse, to_warehouse, actor, batch=None,
             document=None, note="", confirm_below_promise=False, now=None):
    """Free stock from one warehouse to another (the venue kit before an event, back after);
    from a pooled warehouse, refused below what is promised unless confirmed (as `issue`)."""
    _check_warehouse(from_warehouse, "warehouse")
    _check_warehouse(to_warehouse, "to_warehouse")
    if from_warehouse.id == to_warehouse.id:
        raise InvalidInput(_("Choose a different warehouse to transfer to."),
                           field="to_warehouse")
    moves = take(product=product, quantity=quantity, source=location_of(from_warehouse),
                 target=location_of(to_warehouse), reason="transfer", actor=actor, batch=batch,
                 document=document, note=note, now=now)
    if not confirm_below_promise:
        check_promise(from_warehouse, product)
    return moves


def scrap(*, product, quantity, warehouse, actor, batch=None, document=None, note="",
          confirm_below_promise=False, now=None):
    """Goods written off (broken, expired): free stock → scrap. Expired batches may go."""
    return issue(product=product, quantity=quantity, warehouse=warehouse, reason="scrap",
                 actor=actor, batch=batch, document=document, note=note,
                 confirm_below_promise=confirm_below_promise, now=now)


# --- Promises (pooled custody) ---------------------------------------------------------------

def register_promises(reader):
    """Add a reader of promised quantities (see PROMISE_READERS)."""
    PROMISE_READERS.append(reader)
    return reader


def promised(warehouse_id=None, product_ids=None):
    """{(warehouse_id, product_id): units promised to customers out of free stock}: pooled
    custody's balances (a reserved warehouse's held goods are on its shelf, not promised)."""
    totals = {}
    for reader in PROMISE_READERS:
        for key, quantity in reader(warehouse_id, product_ids).items():
            totals[key] = totals.get(key, 0) + quantity
    return {key: quantity for key, quantity in totals.items() if quantity}


def check_promise(warehouse, product):
    """After goods left a pooled warehouse's free stock: refuse (BelowPromise) when what is
    left is below what customers are promised."""
    # Only pooled custody promises anything (a reserved warehouse's are on its shelf).
    promise = promised(warehouse.id, [product.id]).get((warehouse.id, product.id), 0)
    if promise <= 0 or warehouse.custody_mode != "pooled":
        return
    left = quantity_in(location_of(warehouse), product)
    if left < promise:
        raise BelowPromise(_("%(name)s: %(left)s %(unit)s would be left in %(place)s, but "
                             "%(promised)s %(unit)s are promised to customers who left goods "
                             "in custody. Tick the confirmation to issue them anyway.",
                             name=product.name, left=left, unit=product.unit,
                             place=warehouse.name, promised=promise),
                           field="confirm_below_promise")


def take_back(*, product, batch, quantity, warehouse, actor, customer=None, event=None,
              document=None, note="", into="stock", now=None):
    """Goods a customer returns: back onto a warehouse's free stock, into the batch they left
    in, or (into="scrap") straight to scrap when they cannot be sold again."""
    if batch is None or batch.product_id != product.id:
        raise InvalidInput(_("Choose the batch the goods came from."), field="batch")
    if into == "scrap":
        target = outside("scrap")
    else:
        _check_warehouse(warehouse)
        target = location_of(warehouse)
    return _write_move(product=product, batch=batch, source=outside("customer"),
                       target=target, quantity=quantity,
                       reason="customer_return", actor=actor, document=document,
                       customer=customer, event=event, note=note, now=now)


def reverse(move, *, actor, note="", document=None, now=None):
    """Reverse a move (红冲): the same goods back the other way, naming the move reversed. A
    move is reversed once; a reversal is not reversed (make a new move instead)."""
    if move.reverses_id is not None:
        raise Conflict(_("This move is itself a reversal and cannot be reversed."))
    if db.session.scalar(select(StockMove.id).where(StockMove.reverses_id == move.id)):
        raise Conflict(_("This move has already been reversed."))
    product = db.session.get(Product, move.product_id)
    try:
        with db.session.begin_nested():
            reversal = _write_move(product=product, batch=db.session.get(Batch, move.batch_id),
                                   source=db.session.get(Location, move.to_location_id),
                                   target=db.session.get(Location, move.from_location_id),
                                   quantity=move.quantity, reason=move.reason, actor=actor,
                                   document=document or (move.document_type,
                                                          move.document_id),
                                   customer=move.customer_id, event=move.event_id,
                                   note=note or _("Reversal of move %(id)s", id=move.id),
                                   reverses=move, now=now)
            db.session.flush()
    except IntegrityError:  # reversed by someone else a moment ago
        raise Conflict(_("This move has already been reversed.")) from None
    return reversal


# --- Reads -----------------------------------------------------------------------------------

def quantity_in(location, product, batch=None):
    """What a location holds of a product (one batch, or all)."""
    query = select(func.coalesce(func.sum(StockQuant.quantity), 0)).where(
        StockQuant.location_id == location.id, StockQuant.product_id == product.id)
    if batch is not None:
        query = query.where(StockQuant.batch_id == batch.id)
    return db.session.scalar(query)


def warehouses(active_only=True):
    query = select(Warehouse).order_by(Warehouse.is_active.desc(), Warehouse.code)
    if active_only:
        query = query.where(Warehouse.is_active.is_(True))
    return db.session.scalars(query).all()


def reason_label(code):
    return REASONS.get(code, code)

"""Clerks' documents: a receipt from a supplier, a transfer between warehouses, a scrap. Each is
one StockDocument whose lines are its moves; each carries the form's one-time token, so a
resubmitted form returns the first document. A wrong document is reversed whole (红冲)."""
from datetime import timedelta

from flask_babel import gettext as _
from sqlalchemy import select

from extensions import db
from models.audit import audit
from models.base import (Conflict, InvalidInput, NotFound, OperationError, add_once, lock_row,
                         utcnow)
from models.clock import document_number, local_day
from models.settings import get_setting
from models.inventory import stock
from models.inventory.tables import DOCUMENT_PREFIXES, StockDocument, StockMove

DOCUMENT = "stock_documents"
MAX_LINES = 100


def _start(kind, *, warehouse, actor, token, now, to_warehouse=None, supplier="", note=""):
    """The document row (flushed, numbered), or the first one written with this token."""
    document, new = add_once(StockDocument(
        kind=kind, warehouse_id=warehouse.id if warehouse else None,
        to_warehouse_id=to_warehouse.id if to_warehouse else None,
        supplier=(supplier or "").strip()[:80], note=(note or "").strip()[:1000],
        created_by_id=actor.id, created_at=now, token=token or None))
    if new:
        document.number = document_number(DOCUMENT_PREFIXES[kind], now, document.id)
    return document, new


def _lines(lines):
    lines = [line for line in lines if line.get("product") is not None or line.get("quantity")]
    if not lines:
        raise InvalidInput(_("Add at least one line: a product and a quantity."), field="lines")
    if len(lines) > MAX_LINES:
        raise InvalidInput(_("At most %(n)s lines on one document.", n=MAX_LINES), field="lines")
    return lines


def _per_line(index, operation):
    """Run one line's operation; an error names the line it is on."""
    try:
        return operation()
    except OperationError as exc:
        exc.message = _("Line %(n)s: %(message)s", n=index + 1, message=exc.message)
        if not isinstance(exc, stock.BelowPromise):  # that one asks for the confirmation
            exc.field = f"lines-{index}-{exc.field or 'quantity'}"
        raise


def create_receipt(*, warehouse, lines, actor, token, supplier="", note="", now=None,
                   confirm_short_dated=False):
    """Goods received from a supplier. lines: [{product, quantity, batch_number, produced_on,
    expiry_date, unit_cost}]. All lines are written, or none. A batch already expired, or
    expiring within the near-expiry days (a setting), is received only on a second
    confirmation (`confirm_short_dated`), and the document is labelled short-dated."""
    stock._check_warehouse(warehouse)
    lines = _lines(lines)
    now = now or utcnow()
    document, new = _start("receipt", warehouse=warehouse, actor=actor, token=token, now=now,
                           supplier=supplier, note=note)
    if not new:
        return document
    for index, line in enumerate(lines):
        if line.get("product") is None:
            raise InvalidInput(_("Line %(n)s: choose a product.", n=index + 1),
                               field=f"lines-{index}-product")
        move = _per_line(index, lambda line=line: stock.receive(
            product=line["product"], quantity=line.get("quantity"), warehouse=warehouse,
            actor=actor, batch_number=line.get("batch_number") or "",
            produced_on=line.get("produced_on"), expiry_date=line.get("expiry_date"),
            unit_cost=line.get("unit_cost"), document=(DOCUMENT, document.id), now=now))
        expiry = move.batch.expiry_date
        if expiry is not None and expiry <= local_day(now) + timedelta(
                days=get_setting("inventory.near_expiry_days")):
            if not confirm_short_dated:
                raise Conflict(_("Line %(n)s: batch %(batch)s of %(product)s expires on "
                                 "%(day)s%(expired)s. Tick the confirmation to receive it "
                                 "anyway.", n=index + 1, batch=move.batch.number,
                                 product=line["product"].name, day=expiry,
                                 expired=_(" — already expired") if expiry < local_day(now)
                                 else ""), field="confirm_short_dated")
            document.short_dated = True
    db.session.flush()
    audit(actor, "stock.receipt", document, summary=f"{document.number} {warehouse.name}",
          now=now)
    return document


def create_transfer(*, warehouse, to_warehouse, lines, actor, token, note="", now=None,
                    confirm_below_promise=False):
    """Free stock moved between warehouses. lines: [{product, quantity, batch}]. Out of a
    pooled warehouse, leaving less on hand than customers are promised needs a second
    confirmation (`confirm_below_promise`)."""
    stock._check_warehouse(warehouse)
    stock._check_warehouse(to_warehouse, "to_warehouse")
    if warehouse.id == to_warehouse.id:
        raise InvalidInput(_("Choose a different warehouse to transfer to."),
                           field="to_warehouse")
    lines = _lines(lines)
    now = now or utcnow()
    document, new = _start("transfer", warehouse=warehouse, to_warehouse=to_warehouse,
                           actor=actor, token=token, now=now, note=note)
    if not new:
        return document
    for index, line in enumerate(lines):
        _per_line(index, lambda line=line: stock.transfer(
            product=line.get("product"), quantity=line.get("quantity"),
            from_warehouse=warehouse, to_warehouse=to_warehouse, batch=line.get("batch"),
            actor=actor, document=(DOCUMENT, document.id),
            confirm_below_promise=confirm_below_promise, now=now))
    db.session.flush()
    audit(actor, "stock.transfer", document,
          summary=f"{document.number} {warehouse.name} → {to_warehouse.name}", now=now)
    return document


def create_scrap(*, warehouse, lines, actor, token, note, now=None, confirm_below_promise=False):
    """Goods written off, with the reason why (broken, expired, damp...); below what is
    promised (pooled custody) only on a second confirmation, as a transfer."""
    stock._check_warehouse(warehouse)
    if not (note or "").strip():
        raise InvalidInput(_("Say why the goods are scrapped."), field="note")
    lines = _lines(lines)
    now = now or utcnow()
    document, new = _start("scrap", warehouse=warehouse, actor=actor, token=token, now=now,
                           note=note)
    if not new:
        return document
    for index, line in enumerate(lines):
        _per_line(index, lambda line=line: stock.scrap(
            product=line.get("product"), quantity=line.get("quantity"), warehouse=warehouse,
            batch=line.get("batch"), actor=actor, document=(DOCUMENT, document.id),
            note=note, confirm_below_promise=confirm_below_promise, now=now))
    db.session.flush()
    audit(actor, "stock.scrap", document, summary=f"{document.number} {warehouse.name}",
          now=now)
    return document


def document_moves(document):
    return db.session.scalars(select(StockMove).where(
        StockMove.document_type == DOCUMENT, StockMove.document_id == document.id)
        .order_by(StockMove.id)).all()


def is_reversed(document):
    return any(move.reverses_id is not None for move in document_moves(document))


def reverse_document(document, *, actor, note, now=None):
    """Reverse every move of a document (红冲), with the reason. Refused when its goods are no
    longer there to take back (a receipt whose goods were issued)."""
    if not (note or "").strip():
        raise InvalidInput(_("Say why the document is reversed."), field="note")
    document = lock_row(document)  # a second reversal waits, then finds the first
    moves = [move for move in document_moves(document) if move.reverses_id is None]
    if is_reversed(document):
        raise Conflict(_("Document %(number)s has already been reversed.",
                         number=document.number))
    now = now or utcnow()
    reversals = [stock.reverse(move, actor=actor, note=note, now=now) for move in moves]
    audit(actor, "stock.reverse", document, summary=f"{document.number}: {note.strip()}",
          now=now)
    return reversals


def get_document_or_404(document_id):
    document = db.session.get(StockDocument, document_id) if 0 < document_id < 2**31 else None
    if document is None:
        raise NotFound(_("No such document."))
    return document

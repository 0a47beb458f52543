"""Custody papers: the pickup slip (with what remains held and a signature line) and the
customer's custody statement (every entry, the balance per product)."""
from flask_babel import gettext as _
from sqlalchemy import select

from extensions import db
from formatting import local_dt
from models import custody as cu
from models.base import utcnow
from reports import render_pdf


def gather_slip(pickup, *, printed_by):
    lines = db.session.scalars(select(cu.CustodyEntry).where(
        cu.CustodyEntry.pickup_id == pickup.id).order_by(cu.CustodyEntry.id)).all()
    return {"title": _("Pickup slip"), "number": pickup.number,
            "customer": pickup.customer.name, "at": local_dt(pickup.at),
            "handed_by": pickup.actor.display_name, "collected_by": pickup.collected_by,
            "relation": pickup.relation, "release_reason": pickup.release_reason,
            "lines": [{"name": e.product.name, "unit": e.product.unit,
                       "batch": e.handed_batch.number if e.handed_batch else "",
                       "expiry": (e.handed_batch.expiry_date if e.handed_batch else "") or "",
                       "quantity": -e.quantity} for e in lines],
            "remaining": [(p.name, held, p.unit) for p, held in
                          cu.balances_by_product(pickup.customer)],
            "printed_by": printed_by, "printed_at": utcnow(),
            "day": local_dt(pickup.at, "%Y-%m-%d")}


def build_slip(data):
    return render_pdf("print/custody_slip.html", data)


def gather_statement(customer, *, printed_by):
    entries = cu.entries_of(customer)
    return {"title": _("Custody statement"), "customer": customer.name,
            "entries": [{"at": local_dt(e.at), "kind": str(cu.ENTRY_KINDS[e.kind]),
                         "name": e.product.name,
                         "batch": e.handed_batch.number if e.handed_batch else _("in stock"),
                         "quantity": e.quantity, "note": e.note,
                         "by": e.actor.display_name} for e in entries],
            "balances": [(p.name, held, p.unit) for p, held in cu.balances_by_product(customer)],
            "printed_by": printed_by, "printed_at": utcnow(),
            "period": _("up to %(day)s", day=local_dt(utcnow(), "%Y-%m-%d"))}


def build_statement(data):
    return render_pdf("print/custody_statement.html", data)

"""A cashier's daily close (日结单): the ledger by method beside what was counted."""
from flask_babel import gettext as _

from formatting import local_dt
from models import orders as o
from models.base import utcnow
from reports import render_pdf


def gather(record, *, printed_by):
    _expected, entries = o.day_summary(record.cashier, record.day)
    methods = sorted(set(record.expected) | set(record.declared),
                     key=lambda m: list(o.METHODS).index(m))
    rows = [{"method": str(o.METHODS[m]),
             "received": record.expected.get(m, {}).get("received", 0),
             "refunded": record.expected.get(m, {}).get("refunded", 0),
             "net": record.expected.get(m, {}).get("net", 0),
             "declared": record.declared.get(m, 0),
             "difference": record.declared.get(m, 0) - record.expected.get(m, {}).get("net", 0)}
            for m in methods]
    return {"title": _("Cashier's daily close"), "cashier": record.cashier.display_name, "day": record.day,
            "rows": rows, "expected_total": record.expected_total,
            "declared_total": record.declared_total, "difference": record.difference,
            "note": record.note, "closed_by": record.closed_by.display_name,
            "closed_at": local_dt(record.closed_at),
            "entries": [{"at": local_dt(e.at, "%H:%M"), "number": e.order.number,
                         "customer": e.order.customer.name,
                         "kind": str(o.PAYMENT_KINDS[e.kind]),
                         "method": str(o.METHODS[e.method]), "amount": e.amount,
                         "reference": e.reference or e.reason} for e in entries],
            "printed_by": printed_by, "printed_at": utcnow(), "day": str(record.day)}


def build(data):
    return render_pdf("print/daily_close.html", data)

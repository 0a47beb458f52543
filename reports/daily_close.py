"""A cashier's daily close (日结单): one session of the day (日结 #2), the ledger by method of the
entries it covered beside what was counted, and those entries."""
from flask_babel import gettext as _

from formatting import local_dt
from models import orders as o
from models.base import utcnow
from reports import render_pdf


def gather(record, *, printed_by):
    entries = record.entries
    methods = sorted(set(record.expected) | set(record.declared),
                     key=lambda m: list(o.METHODS).index(m))
    rows = [{"method": str(o.METHODS[m]),
             "received": record.expected.get(m, {}).get("received", 0),
             "refunded": record.expected.get(m, {}).get("refunded", 0),
             "net": record.expected.get(m, {}).get("net", 0),
             "declared": record.declared.get(m, 0),
             "difference": record.declared.get(m, 0) - record.expected.get(m, {}).get("net", 0)}
            for m in methods]
    session = _("Close #%(n)s", n=record.session)
    covered = _("Covers %(count)s entries of the day entered up to %(time)s.",
                count=len(entries), time=local_dt(record.closed_at, "%H:%M"))
    ids = {e.id for e in entries}
    taken_over = ", ".join(f"#{s.session}" for s in o.sessions_of_day(record.cashier, record.day)
                           if s.session < record.session and s.is_reopened
                           and ids & {e.id for e in s.entries})
    if taken_over:
        covered += " " + _("With the entries of reopened close %(sessions)s.",
                           sessions=taken_over)
    reopened = _("Reopened %(time)s by %(name)s: %(reason)s",
                 time=local_dt(record.reopened_at), name=record.reopened_by.display_name,
                 reason=record.reopen_reason) if record.is_reopened else ""
    return {"title": _("Cashier's daily close"), "cashier": record.cashier.display_name,
            "day": f"{record.day} · {session}", "session": session,
            "covered": covered, "reopened": reopened,
            "rows": rows, "expected_total": record.expected_total,
            "declared_total": record.declared_total, "difference": record.difference,
            "note": record.note, "closed_by": record.closed_by.display_name,
            "closed_at": local_dt(record.closed_at),
            "entries": [{"at": local_dt(e.at, "%H:%M"), "number": e.order.number,
                         "customer": e.order.customer.name,
                         "kind": str(o.PAYMENT_KINDS[e.kind]),
                         "method": str(o.METHODS[e.method]), "amount": e.amount,
                         "reference": e.reference or e.reason} for e in entries],
            "printed_by": printed_by, "printed_at": utcnow()}


def build(data):
    return render_pdf("print/daily_close.html", data)

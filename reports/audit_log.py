"""The audit log, printed: the same filters as the screen, newest first, up to MAX_ROWS rows."""
from dataclasses import dataclass
from datetime import date, datetime

from flask_babel import gettext as _

from extensions import db
from formatting import local_dt
from models.audit import action_label, find_audit_entries
from reports import render_pdf

MAX_ROWS = 2000


@dataclass(frozen=True)
class Params:
    printed_by: str
    printed_at: datetime
    actor_id: int | None = None
    action: str | None = None
    target_type: str | None = None
    target_id: int | None = None
    start: datetime | None = None   # UTC, inclusive
    end: datetime | None = None     # UTC, exclusive
    first_day: date | None = None   # as the user typed them, for the header
    last_day: date | None = None
    text: str | None = None


def gather(params):
    """Plain rows for the PDF (no ORM objects leave this function)."""
    query = find_audit_entries(actor_id=params.actor_id, action=params.action,
                               target_type=params.target_type, target_id=params.target_id,
                               start=params.start, end=params.end, text=params.text)
    entries = db.session.scalars(query.limit(MAX_ROWS + 1)).all()
    rows = [{"at": local_dt(e.at, "%Y-%m-%d %H:%M:%S"),
             "who": e.actor.display_name if e.actor else (e.actor_name or _("System")),
             "action": str(action_label(e.action)),
             "record": e.target_label,
             "summary": e.summary, "ip": e.ip or ""} for e in entries[:MAX_ROWS]]
    period = ""
    if params.first_day or params.last_day:
        period = f"{params.first_day or '…'} – {params.last_day or '…'}"
    return {"rows": rows, "truncated": len(entries) > MAX_ROWS, "period": period,
            "printed_by": params.printed_by, "printed_at": params.printed_at}


def build(data, title):
    """The PDF bytes of gathered data."""
    return render_pdf("print/audit.html", {**data, "title": title})

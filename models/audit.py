"""The audit log: who did what to which record, when, with a short before/after summary.

Every money, points, stock and ownership change, every sign-in and failed sign-in, and every
change of users, roles and settings calls audit(). The trail is data, not log lines.
"""
from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import ForeignKey, Index, Integer, String, JSON, insert, select
from sqlalchemy.orm import Mapped, mapped_column, relationship

from extensions import db
from models.base import UTCDateTime, utcnow

#: Action code → label shown in the log. Each area registers its own with register_actions().
ACTIONS = {}


def register_actions(labels):
    """Declare audit action codes and their (lazy, translated) labels."""
    ACTIONS.update(labels)


def action_label(code):
    """The label of an action code (the code itself when unknown)."""
    return ACTIONS.get(code, code)


#: (table name or None, key of a before/after detail) → its label ("display_name" → 姓名),
#: registered per area; None stands for any table.
FIELDS = {}


def register_fields(labels, target_type=None):
    """Declare how the audit log labels the keys of before/after details (of the records of
    one table, when a key means something else elsewhere: a product's name is not a person's)."""
    FIELDS.update({(target_type, key): label for key, label in labels.items()})


def field_label(key, target_type=None):
    return FIELDS.get((target_type, key)) or FIELDS.get((None, key), key)


#: (table name or None, key) → {stored value: label}: how the log shows a code it recorded.
VALUES = {}


def register_values(labels, target_type=None):
    """Declare the labels of the coded values of some keys ({"status": STATUSES} for the records
    of one table; a list value is labelled item by item). True and False read 是/否 anywhere."""
    VALUES.update({(target_type, key): values for key, values in labels.items()})


def value_label(key, value, target_type=None):
    """How a recorded before/after value reads in the log: its label when the key has coded
    values, 是/否 for a flag, the value itself otherwise."""
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    labels = VALUES.get((target_type, key)) or VALUES.get((None, key)) or {}
    if isinstance(value, list):
        return "、".join(str(labels.get(item, item)) for item in value)
    if isinstance(value, (str, int)):
        return labels.get(value, value)
    return value


#: Table name → label of the kind of record ("users" → 用户), registered per area.
TARGETS = {}


def register_targets(labels):
    """Declare how the audit log names the records of some tables."""
    TARGETS.update(labels)


def target_label(target_type, target_id):
    """"用户 #12" for ("users", 12); empty when there is no target."""
    if not target_type:
        return ""
    return f"{TARGETS.get(target_type, target_type)} #{target_id}"


class AuditEntry(db.Model):
    __tablename__ = "audit_entries"
    __table_args__ = (Index("ix_audit_entries_target", "target_type", "target_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    #: Who it was as typed or shown at the time (a failed sign-in has a name but no user).
    actor_name: Mapped[str] = mapped_column(String(100), default="")
    action: Mapped[str] = mapped_column(String(64), index=True)
    #: Table name of the record acted on, and its id.
    target_type: Mapped[str | None] = mapped_column(String(64))
    target_id: Mapped[int | None] = mapped_column(Integer)
    summary: Mapped[str] = mapped_column(String(500), default="")
    #: {"before": {...}, "after": {...}} for changes; small, human-readable values only.
    details: Mapped[dict | None] = mapped_column(JSON)
    ip: Mapped[str | None] = mapped_column(String(45))

    actor = relationship("User", foreign_keys=[actor_id], lazy="joined")

    @property
    def action_label(self):
        return action_label(self.action)

    @property
    def target_label(self):
        return target_label(self.target_type, self.target_id)

    @property
    def changes(self):
        """[(label, before, after)] of the details, for display (before is None on creation)."""
        if not self.details:
            return []
        before, after = self.details.get("before", {}), self.details.get("after", {})

        def shown(key, value):
            return value if value in (None, "") else value_label(key, value, self.target_type)
        return [(field_label(key, self.target_type), shown(key, before.get(key)),
                 shown(key, after.get(key))) for key in dict.fromkeys([*before, *after])]


def _entry_values(actor, action, target, *, summary="", before=None, after=None, ip=None,
                  actor_name=None, now=None):
    target_type = target_id = None
    if target is not None:
        if getattr(target, "id", None) is None:
            db.session.flush()
        target_type, target_id = target.__tablename__, target.id
    details = None
    if before is not None or after is not None:
        before, after = dict(before or {}), dict(after or {})
        keys = [k for k in {**before, **after}
                if before.get(k) != after.get(k) and (before.get(k) or after.get(k))]
        details = {"before": {k: before.get(k) for k in keys if k in before},
                   "after": {k: after.get(k) for k in keys if k in after}}
    return dict(at=now or utcnow(), actor_id=getattr(actor, "id", None),
                actor_name=actor_name or getattr(actor, "display_name", "") or "",
                action=action, target_type=target_type, target_id=target_id,
                summary=str(summary)[:500], details=details, ip=ip)


def audit(actor, action, target=None, *, summary="", before=None, after=None, ip=None,
          actor_name=None, now=None):
    """Record that `actor` did `action` to `target` (an ORM row, or None). Returns the entry.

    `before`/`after` are small dicts of the fields that changed; only differing keys are kept.
    """
    entry = AuditEntry(**_entry_values(actor, action, target, summary=summary, before=before,
                                       after=after, ip=ip, actor_name=actor_name, now=now))
    db.session.add(entry)
    return entry


def audit_each(actor, action, changes, *, now=None):
    """audit() for many targets of one action, written by one statement (a night's thousands):
    `changes` are (target, summary, before, after)."""
    rows = [_entry_values(actor, action, target, summary=summary, before=before, after=after,
                          now=now) for target, summary, before, after in changes]
    if rows:
        db.session.execute(insert(AuditEntry), rows)
    return len(rows)


def find_audit_entries(*, actor_id=None, action=None, target_type=None, target_id=None,
                       start=None, end=None, text=None):
    """A select of audit entries, newest first, filtered (None means any). `end` is exclusive."""
    query = select(AuditEntry).order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
    if actor_id:
        query = query.where(AuditEntry.actor_id == actor_id)
    if action:
        query = query.where(AuditEntry.action == action)
    if target_type:
        query = query.where(AuditEntry.target_type == target_type)
    if target_id:
        query = query.where(AuditEntry.target_id == target_id)
    if start:
        query = query.where(AuditEntry.at >= start)
    if end:
        query = query.where(AuditEntry.at < end)
    if text:
        query = query.where(AuditEntry.summary.icontains(text, autoescape=True)
                            | AuditEntry.actor_name.icontains(text, autoescape=True))
    return query

"""The audit helper and the filters of the audit log."""
from datetime import timedelta

from sqlalchemy import select

from models.audit import AuditEntry, audit, find_audit_entries
from models.base import utcnow
from tests.factories import make_user


def test_audit_keeps_only_the_fields_that_changed(db):
    admin = make_user(["admin"])
    target = make_user()
    entry = audit(admin, "user.update", target, summary="改手机号",
                  before={"phone": "+8613800000000", "name": "甲"},
                  after={"phone": "+8613900000000", "name": "甲"})
    db.session.flush()
    assert (entry.actor_id, entry.target_type, entry.target_id) == (admin.id, "users", target.id)
    assert entry.details == {"before": {"phone": "+8613800000000"},
                             "after": {"phone": "+8613900000000"}}
    assert entry.actor_name == admin.display_name


def test_find_filters_by_actor_action_target_period_and_text(db):
    a, b = make_user(["admin"]), make_user(["manager"])
    now = utcnow()
    audit(a, "x.one", a, summary="100%_literal", now=now - timedelta(days=2))
    audit(b, "x.two", b, summary="plain", now=now)
    db.session.flush()

    def actions(**kw):
        return [e.action for e in db.session.scalars(find_audit_entries(**kw))
                if e.action.startswith("x.")]
    assert actions() == ["x.two", "x.one"]  # newest first
    assert actions(actor_id=a.id) == ["x.one"]
    assert actions(action="x.two") == ["x.two"]
    assert actions(target_type="users", target_id=b.id) == ["x.two"]
    assert actions(start=now - timedelta(days=1)) == ["x.two"]
    assert actions(end=now - timedelta(days=1)) == ["x.one"]
    assert actions(text="0%_lit") == ["x.one"]  # % and _ are literal, not wildcards
    assert actions(text="1%") == []
    assert db.session.scalar(select(AuditEntry).where(AuditEntry.action == "x.two")).at > \
        now - timedelta(seconds=1)

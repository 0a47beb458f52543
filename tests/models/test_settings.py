"""Business settings: typed defaults, validated changes, audited."""
import pytest
from sqlalchemy import select

from models.audit import AuditEntry
from models.base import InvalidInput
from models.settings import DEFINITIONS, Setting, get_setting, update_settings
from tests.factories import make_user


def test_defaults_until_changed(db):
    assert get_setting("general.timezone") == "Asia/Shanghai"
    assert get_setting("security.max_failed_logins") == 5
    assert get_setting("security.lockout_minutes") == 15
    assert all(d.label for d in DEFINITIONS.values())


def test_update_stores_audits_and_reports_only_real_changes(db):
    admin = make_user(["admin"])
    changed = update_settings({"general.company_name": "  康寿会务  ",
                               "security.lockout_minutes": "30",
                               "general.timezone": "Asia/Shanghai"}, actor=admin)
    assert changed == ["general.company_name", "security.lockout_minutes"]
    assert get_setting("general.company_name") == "康寿会务"
    assert get_setting("security.lockout_minutes") == 30
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "settings.update"))
    assert entry.details["before"]["security.lockout_minutes"] == 15
    assert entry.details["after"]["security.lockout_minutes"] == 30
    assert update_settings({"security.lockout_minutes": 30}, actor=admin) == []


@pytest.mark.parametrize("values, message", [
    ({"security.lockout_minutes": 0}, "at least 1"),
    ({"security.lockout_minutes": -5}, "at least 1"),
    ({"security.max_failed_logins": 1000}, "at most 20"),
    ({"security.max_failed_logins": "五"}, "whole number"),
    ({"general.timezone": "Mars/Olympus"}, "not a known time zone"),
    ({"general.company_name": ""}, "required"),
    ({"general.company_name": "公" * 101}, "at most 100"),
    ({"nope.key": 1}, "Unknown setting"),
])
def test_bad_values_are_refused_and_nothing_is_written(db, values, message):
    admin = make_user(["admin"])
    good = {"general.company_name": "好名字"}
    with pytest.raises(InvalidInput, match=message):
        update_settings({**good, **values}, actor=admin)
    assert db.session.scalars(select(Setting)).all() == []

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
    ({"security.lockout_minutes": 0}, "不能小于 1"),
    ({"security.lockout_minutes": -5}, "不能小于 1"),
    ({"security.max_failed_logins": 1000}, "不能大于 20"),
    ({"security.max_failed_logins": "五"}, "必须是整数"),
    ({"general.timezone": "Mars/Olympus"}, "不是已知的时区"),
    ({"general.company_name": ""}, "请填写"),
    ({"general.company_name": "公" * 101}, "最多 100 个字符"),
    ({"nope.key": 1}, "未知设置项"),
])
def test_bad_values_are_refused_and_nothing_is_written(db, values, message):
    admin = make_user(["admin"])
    good = {"general.company_name": "好名字"}
    with pytest.raises(InvalidInput, match=message):
        update_settings({**good, **values}, actor=admin)
    assert db.session.scalars(select(Setting)).all() == []

"""Business settings: typed defaults, validated changes, audited."""
import uuid

import pytest
from sqlalchemy import select, update

from models.audit import AuditEntry
from models.base import InvalidInput
from models.settings import DEFINITIONS, VERSION_KEY, Setting, get_setting, update_settings
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


def test_a_signed_in_request_reads_the_settings_again_only_after_they_change(db, client, login):
    """A signed-in request learns the settings' version with its user and reads the settings
    only when they changed since this process last read them: a change saved elsewhere (another
    worker, the scheduler) shows on the very next page; an unchanged one costs no read."""
    from sqlalchemy import event as sa_event

    from tests.conftest import page_text
    admin = make_user(["admin"])
    login(make_user(["marketer"]))
    seen = []

    def saw(_conn, _cursor, statement, *_args):
        seen.append(statement)

    def reads():
        return len([s for s in seen if s.startswith("SELECT settings.") and
                    s.rstrip().endswith("FROM settings")])
    sa_event.listen(db.engine, "before_cursor_execute", saw)
    try:
        client.get("/")  # never saved: the defaults, read once
        seen.clear()
        assert "会销通示范公司" in page_text(client.get("/")) and reads() == 0
        update_settings({"general.company_name": "康寿会务"}, actor=admin)  # the first save
        assert "康寿会务" in page_text(client.get("/"))
        seen.clear()
        assert "康寿会务" in page_text(client.get("/")) and reads() == 0
        # Saved by another worker (what its update_settings leaves in the database): this
        # process still holds the old values.
        db.session.execute(update(Setting).where(Setting.key == "general.company_name")
                           .values(value="福寿会务"))
        db.session.execute(update(Setting).where(Setting.key == VERSION_KEY)
                           .values(value=uuid.uuid4().hex))
        db.session.flush()
        seen.clear()
        assert "福寿会务" in page_text(client.get("/")) and reads() == 1
        seen.clear()
        assert "福寿会务" in page_text(client.get("/")) and reads() == 0
        # A save rolled back leaves the version as it was: the values read are the saved ones.
        with db.session.begin_nested() as nested:
            update_settings({"general.company_name": "未保存"}, actor=admin)
            assert get_setting("general.company_name") == "未保存"
            nested.rollback()
        assert "福寿会务" in page_text(client.get("/"))
    finally:
        sa_event.remove(db.engine, "before_cursor_execute", saw)

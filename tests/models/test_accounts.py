"""Users, roles, departments, passwords and the sign-in lockout, tested without HTTP."""
import random
from datetime import timedelta

import phonenumbers
import pytest
from sqlalchemy import func, select

from models import accounts
from models.accounts import SignInRefused, User
from models.audit import AuditEntry
from models.base import Conflict, InvalidInput, utcnow
from tests.factories import PASSWORD, make_department, make_user


def audit_actions(db, user=None):
    query = select(AuditEntry.action).order_by(AuditEntry.id)
    if user is not None:
        query = query.where(AuditEntry.target_type == "users", AuditEntry.target_id == user.id)
    return list(db.session.scalars(query))


def test_create_user_hashes_the_password_and_keeps_several_roles(db):
    sales = make_department("销售一部")
    user = make_user(["marketer", "event_staff"], username="LiuFang", department=sales,
                     phone="138 1234 8000")
    assert user.username == "liufang"
    assert user.phone == "+8613812348000"
    assert user.roles == ["marketer", "event_staff"]
    assert user.has_role("event_staff") and not user.has_role("admin")
    assert PASSWORD not in user.password_hash
    assert audit_actions(db, user) == ["user.create"]


@pytest.mark.parametrize("field, kwargs, message", [
    ("username", {"username": "张三"}, "登录名须为"),
    ("username", {"username": "a"}, "登录名须为"),
    ("password", {"password": "short1"}, "至少 8 个字符"),
    ("password", {"password": "onlyletters"}, "字母和数字"),
    ("phone", {"phone": "12345"}, "不是有效的手机号"),
    ("phone", {"phone": "010-6512 3456"}, "不是有效的手机号"),
    ("roles", {"roles": []}, "至少选择一个角色"),
    ("roles", {"roles": ["boss"]}, "未知角色"),
    ("display_name", {"display_name": "   "}, "请输入姓名"),
])
def test_create_user_refuses_bad_input_and_writes_nothing(db, field, kwargs, message):
    values = {"username": "newuser", "display_name": "新人", "password": PASSWORD,
              "roles": ["marketer"], "phone": "", **kwargs}
    with pytest.raises(InvalidInput, match=message) as caught:
        accounts.create_user(**values, actor=None)
    assert caught.value.field == field
    assert db.session.scalar(select(User).where(User.username == "newuser")) is None


def test_sign_in_names_are_unique_whatever_the_case(db):
    make_user(username="zhangli")
    with pytest.raises(Conflict, match="已被使用"):
        make_user(username="ZhangLi")


def test_sign_in_succeeds_and_resets_the_failure_count(db):
    user = make_user(username="wang")
    with pytest.raises(SignInRefused):
        accounts.sign_in("wang", "wrong-pass1")
    assert user.failed_logins == 1
    assert accounts.sign_in(" WANG ", PASSWORD, ip="10.0.0.8") is user
    assert user.failed_logins == 0 and user.last_login_at is not None
    entry = db.session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc())).first()
    assert (entry.action, entry.ip, entry.actor_id) == ("auth.sign_in", "10.0.0.8", user.id)


def test_unknown_user_is_refused_and_audited_with_the_typed_name(db):
    with pytest.raises(SignInRefused, match="登录名或密码错误"):
        accounts.sign_in("nobody", "whatever1")
    entry = db.session.scalar(select(AuditEntry))
    assert (entry.action, entry.actor_id, entry.actor_name) == ("auth.sign_in_failed", None,
                                                                "nobody")


#: The one answer to a refused sign-in, whoever the name (the lockout rule, never the
#: attempts left).
REFUSED = "登录名或密码错误。连续 5 次密码错误，账号将被锁定 15 分钟。"


def test_five_wrong_passwords_lock_the_account_for_fifteen_minutes(db):
    user = make_user(username="zhao")
    start = utcnow()
    for attempt in range(1, 5):
        with pytest.raises(SignInRefused, match=f"^{REFUSED}$"):
            accounts.sign_in("zhao", "bad-pass1", now=start + timedelta(seconds=attempt))
        assert user.failed_logins == attempt and user.locked_until is None
    with pytest.raises(SignInRefused, match=f"^{REFUSED}$"):
        accounts.sign_in("zhao", "bad-pass1", now=start + timedelta(seconds=5))
    assert user.locked_until == start + timedelta(seconds=5, minutes=15)
    # Locked: even the right password is refused, with the same answer as a wrong one (else
    # the lock would tell a guesser when they had found it).
    with pytest.raises(SignInRefused, match=f"^{REFUSED}$"):
        accounts.sign_in("zhao", PASSWORD, now=start + timedelta(seconds=6))
    with pytest.raises(SignInRefused, match=f"^{REFUSED}$"):
        accounts.sign_in("zhao", PASSWORD, now=start + timedelta(minutes=14, seconds=30))
    assert accounts.sign_in("zhao", PASSWORD, now=start + timedelta(minutes=15, seconds=6)) \
        is user
    actions = audit_actions(db, user)
    assert actions.count("auth.locked") == 1
    assert actions[-1] == "auth.sign_in"


def test_lockout_follows_the_settings(db):
    from models.settings import update_settings
    admin = make_user(["admin"])
    update_settings({"security.max_failed_logins": 3, "security.lockout_minutes": 60},
                    actor=admin)
    make_user(username="qian")
    for _ in range(2):
        with pytest.raises(SignInRefused):
            accounts.sign_in("qian", "bad-pass1")
    with pytest.raises(SignInRefused, match="连续 3 次密码错误，账号将被锁定 60 分钟"):
        accounts.sign_in("qian", "bad-pass1")
    assert db.session.scalar(select(User.locked_until).where(User.username == "qian"))


def test_deactivated_user_cannot_sign_in_but_keeps_their_records(db):
    admin = make_user(["admin"])
    leaver = make_user(username="leaver")
    accounts.deactivate_user(leaver, actor=admin)
    with pytest.raises(SignInRefused, match="已停用"):
        accounts.sign_in("leaver", PASSWORD)
    assert db.session.get(User, leaver.id).deactivated_at is not None
    assert audit_actions(db, leaver)[-2:] == ["user.deactivate", "auth.sign_in_failed"]
    accounts.reactivate_user(leaver, actor=admin)
    assert accounts.sign_in("leaver", PASSWORD) is leaver


def test_admin_cannot_deactivate_self_or_drop_own_admin_role(db):
    admin = make_user(["admin"])
    with pytest.raises(InvalidInput, match="不能停用自己的账号"):
        accounts.deactivate_user(admin, actor=admin)
    with pytest.raises(InvalidInput, match="不能取消自己的系统管理员角色"):
        accounts.update_user(admin, display_name="管理员", phone="", department=None,
                             roles=["manager"], actor=admin)


def test_password_changes_end_other_sessions(db):
    user = make_user()
    accounts.start_session(user)
    old_session_id = user.get_id()
    assert accounts.load_user(old_session_id) is user
    accounts.change_own_password(user, PASSWORD, "newpass456")
    assert accounts.load_user(old_session_id) is None
    accounts.start_session(user)
    assert accounts.load_user(user.get_id()) is user
    with pytest.raises(InvalidInput, match="当前密码不正确"):
        accounts.change_own_password(user, PASSWORD, "another789")


def test_reset_password_clears_the_lock(db):
    admin = make_user(["admin"])
    user = make_user(username="sun")
    user.locked_until = utcnow() + timedelta(minutes=10)
    accounts.reset_password(user, "fresh2026x", actor=admin)
    assert accounts.sign_in("sun", "fresh2026x") is user


@pytest.mark.parametrize("session_id", ["", "abc", "1", "1.x", "999.1", "1.1.1", "1.1",
                                        "1.1." + "a" * 32, "1².1." + "a" * 32,
                                        "1.1." + "a" * 31 + ".", "1.1." + "a" * 65])
def test_load_user_rejects_malformed_or_unknown_ids(db, session_id):
    assert accounts.load_user(session_id) is None


def test_a_session_is_its_own_row_and_ends_alone(db):
    user = make_user()
    assert accounts.load_user(user.get_id()) is None  # no session recorded: not signed in
    first = accounts.start_session(user)
    first_id = user.get_id()
    second = accounts.start_session(user)
    second_id = user.get_id()
    assert first != second and first_id != second_id
    assert accounts.load_user(first_id) is user and user.session_key == first
    assert accounts.load_user(second_id) is user and user.session_key == second
    accounts.end_session(user, first)
    assert accounts.load_user(first_id) is None
    assert accounts.load_user(second_id) is user
    # Someone else's session id with this user's id is not a session of this user.
    other = make_user()
    accounts.start_session(other)
    assert accounts.load_user(f"{user.id}.{user.auth_version}.{other.session_key}") is None


def test_sessions_end_after_the_longest_age_and_their_rows_go_at_the_next_sign_in(db):
    user = make_user()
    long_ago = utcnow() - accounts.SESSION_MAX_AGE - timedelta(minutes=1)
    accounts.start_session(user, now=long_ago)
    stale_id = user.get_id()
    assert accounts.load_user(stale_id) is None
    recent = accounts.start_session(user)
    assert db.session.scalars(select(accounts.UserSession.id).where(
        accounts.UserSession.user_id == user.id)).all() == [recent]


def test_deactivation_and_a_password_reset_end_every_session(db):
    admin = make_user(["admin"])
    user = make_user()
    accounts.start_session(user)
    session_id = user.get_id()
    accounts.reset_password(user, "fresh2026x", actor=admin)
    assert accounts.load_user(session_id) is None
    accounts.start_session(user)
    accounts.deactivate_user(user, actor=admin)
    assert db.session.scalar(select(func.count()).select_from(accounts.UserSession).where(
        accounts.UserSession.user_id == user.id)) == 0


def test_department_tree_refuses_cycles_and_duplicate_names(db):
    admin = make_user(["admin"])
    hq = make_department("总部")
    sales = make_department("销售部", parent=hq)
    team = make_department("销售一组", parent=sales)
    assert team.path == "总部 / 销售部 / 销售一组"
    with pytest.raises(InvalidInput, match="不能放在它自己"):
        accounts.update_department(sales, name="销售部", parent=team, is_active=True,
                                   actor=admin)
    with pytest.raises(Conflict, match="已有名为"):
        accounts.create_department("销售部", parent=hq, actor=admin)
    # The same name under another parent is fine.
    accounts.create_department("销售部", parent=team, actor=admin)
    ordered = [(d.name, d.depth) for d in accounts.all_departments()]
    assert ordered == [("总部", 0), ("销售部", 1), ("销售一组", 2), ("销售部", 3)]


def _parsed_mobile(raw):
    """normalise_mobile's answer the long way, through phonenumbers.parse: E.164 or None."""
    try:
        number = phonenumbers.parse(raw, "CN")
    except phonenumbers.NumberParseException:
        return None
    if (not phonenumbers.is_valid_number(number)
            or phonenumbers.region_code_for_number(number) != "CN"
            or phonenumbers.number_type(number) not in accounts.MOBILE_TYPES):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def test_eleven_plain_digits_are_read_as_phonenumbers_reads_them(app):
    """The short way through a plain eleven-digit mobile gives what parse() gives: every prefix
    of five digits (the carrier prefixes 11xx, 12xx, 179xx go the long way), valid or not."""
    rng = random.Random(26)
    for prefix in range(10000, 20000):
        raw = f"{prefix}{rng.randrange(10 ** 6):06d}"
        try:
            got = accounts.normalise_mobile(raw)
        except InvalidInput:
            got = None
        assert got == _parsed_mobile(raw), raw

"""Accounts: departments (a tree), users with several roles, sign-in with lockout, passwords."""
import re
import secrets
from datetime import datetime, timedelta
from functools import lru_cache

import phonenumbers
from flask import current_app
from flask_babel import gettext as _, lazy_gettext as _l
from flask_login import UserMixin
from sqlalchemy import (Boolean, CheckConstraint, ForeignKey, Integer, String, UniqueConstraint,
                        bindparam, delete, func, select)
from sqlalchemy.orm import Mapped, joinedload, mapped_column, relationship
from sqlalchemy.exc import IntegrityError
from werkzeug.security import check_password_hash, generate_password_hash

from extensions import db
from models.audit import AuditEntry, audit, register_actions, register_fields, register_targets
from models.base import Conflict, InvalidInput, UTCDateTime, utcnow
from models.settings import define, define_area, get_setting, note_version, version_column

#: The seven roles of DESIGN §2, in the order they are listed on screens.
ROLES = {
    "admin": _l("System administrator"),
    "manager": _l("Manager"),
    "dept_head": _l("Department head"),
    "marketer": _l("Marketer"),
    "event_staff": _l("Event staff"),
    "warehouse": _l("Warehouse staff"),
    "finance": _l("Finance"),
}

USERNAME_RE = re.compile(r"^[A-Za-z0-9_.-]{2,40}$")
PASSWORD_MIN_LENGTH = 8
#: A signed-in session ends at the latest this long after sign-in, however busy (the cookie
#: itself ends after PERMANENT_SESSION_LIFETIME without a request); its row is removed at the
#: user's next sign-in.
SESSION_MAX_AGE = timedelta(days=30)
#: What the session cookie holds for Flask-Login: "<user id>.<auth_version>.<session id>".
SESSION_ID_RE = re.compile(r"^(\d{1,9})\.(\d{1,9})\.([A-Za-z0-9_-]{16,64})$", re.ASCII)


class Department(db.Model):
    __tablename__ = "departments"
    __table_args__ = (UniqueConstraint("parent_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(60))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"), index=True)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    parent = relationship("Department", remote_side=[id], back_populates="children")
    children = relationship("Department", back_populates="parent", order_by="Department.name")

    def __repr__(self):
        return f"<Department {self.id} {self.name}>"

    @property
    def path(self):
        """Names from the root down, e.g. "总部 / 销售一部"."""
        names, node, seen = [], self, set()
        while node is not None and node.id not in seen:
            seen.add(node.id)
            names.append(node.name)
            node = node.parent
        return " / ".join(reversed(names))


class UserRole(db.Model):
    __tablename__ = "user_roles"
    __table_args__ = (
        CheckConstraint("role IN ('admin', 'manager', 'dept_head', 'marketer', 'event_staff', "
                        "'warehouse', 'finance')", name="known_role"),
    )

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"),
                                         primary_key=True)
    role: Mapped[str] = mapped_column(String(20), primary_key=True)


class User(UserMixin, db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Sign-in name, stored lower-case.
    username: Mapped[str] = mapped_column(String(40), unique=True)
    display_name: Mapped[str] = mapped_column(String(40))
    #: Mobile number in E.164 (+8613812345678), or empty.
    phone: Mapped[str] = mapped_column(String(20), default="")
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"), index=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    #: A short PIN (hashed) a department head or manager types on a tablet to confirm a large
    #: order at the marketer's side; empty until they set one.
    pin_hash: Mapped[str] = mapped_column(String(255), default="")
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    #: Interface language ("zh_CN", "en"); empty means the company default.
    locale: Mapped[str] = mapped_column(String(10), default="")
    #: Failed sign-ins since the last success or lock.
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: Bumped when the password changes or the user is deactivated: old sessions stop working.
    auth_version: Mapped[int] = mapped_column(Integer, default=1)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: Signed in with a password someone else chose (an import of users): every page leads to
    #: the password change until the user sets their own.
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    deactivated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    #: Loaded when read: most screens load users (owners, inviters) only for their names.
    department = relationship("Department", lazy="select")
    role_rows = relationship("UserRole", cascade="all, delete-orphan", lazy="select",
                             order_by="UserRole.role")

    #: The signed-in session (UserSession.id) this object was loaded for, if any: set by
    #: load_user and start_session; not a column.
    session_key = None

    def __repr__(self):
        return f"<User {self.id} {self.username}>"

    # Flask-Login: the session holds id, auth_version and the session's own id, so a password
    # change or a deactivation signs the user out everywhere, and signing out ends that one
    # session (on every copy of its cookie) but not the user's other devices.
    def get_id(self):
        return f"{self.id}.{self.auth_version}.{self.session_key or ''}"

    @property
    def roles(self):
        """The user's role codes, in the order of ROLES."""
        held = {row.role for row in self.role_rows}
        return [role for role in ROLES if role in held]

    def has_role(self, *roles):
        """True if the user holds any of `roles`."""
        return any(row.role in roles for row in self.role_rows)

    @property
    def role_labels(self):
        return [ROLES[role] for role in self.roles]

    def is_locked(self, now=None):
        return self.locked_until is not None and self.locked_until > (now or utcnow())


class UserSession(db.Model):
    """A signed-in session of one browser or tablet; its id travels in the (signed) session
    cookie. Signing out deletes the row, so no copy of the cookie works afterwards; a password
    change or a deactivation deletes all of the user's rows (auth_version ends them anyway)."""
    __tablename__ = "user_sessions"

    #: Random (secrets.token_urlsafe), never reused.
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


@lru_cache(maxsize=1)
def _load_user_query():
    # Built once: every request runs it. The session row is joined in: still one query (by
    # two primary keys) per request, as before sessions had rows.
    # The settings' version comes with it: a request then reads the settings only when they
    # changed since this process last read them (settings.version_column).
    return select(User, version_column()).join(UserSession, UserSession.user_id == User.id) \
        .where(User.id == bindparam("user_id"), UserSession.id == bindparam("session_key"),
               UserSession.created_at > bindparam("oldest")) \
        .options(joinedload(User.role_rows))


def load_user(session_id):
    """Flask-Login loader: the active user whose id and auth_version match and whose session
    is still recorded (not signed out, not older than SESSION_MAX_AGE), else None."""
    match = SESSION_ID_RE.match(str(session_id))
    if match is None:
        return None
    user_id, version, key = match.groups()
    row = db.session.execute(_load_user_query(), {
        "user_id": int(user_id), "session_key": key, "oldest": utcnow() - SESSION_MAX_AGE}) \
        .unique().first()
    if row is None:
        return None
    user, settings_version = row
    note_version(settings_version)
    if not user.is_active or user.auth_version != int(version):
        return None
    user.session_key = key
    return user


# --- Reads -------------------------------------------------------------------------------------

def find_user_by_username(username, *, for_update=False):
    """The user with this sign-in name (case-insensitive), or None; `for_update` locks the row
    (PostgreSQL; SQLite serialises writers through BEGIN IMMEDIATE)."""
    name = (username or "").strip().lower()
    if not name:
        return None
    query = select(User).where(User.username == name)
    return db.session.scalar(query.with_for_update(of=User) if for_update else query)


def all_departments():
    """Every department, parents before children, each with `depth` set for indenting."""
    rows = db.session.scalars(select(Department).order_by(Department.name)).all()
    by_parent = {}
    for row in rows:
        by_parent.setdefault(row.parent_id, []).append(row)
    ordered = []

    def walk(parent_id, depth):
        for row in by_parent.get(parent_id, []):
            row.depth = depth
            ordered.append(row)
            walk(row.id, depth + 1)
    walk(None, 0)
    return ordered


# --- Rules -------------------------------------------------------------------------------------

MOBILE_TYPES = (phonenumbers.PhoneNumberType.MOBILE,
                phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE)


#: Eleven digits that phonenumbers.parse(…, "CN") reads as they are: no leading 0, nor the
#: 11xx / 12xx / 179xx that CN's national_prefix_for_parsing may strip (carrier prefixes).
_PLAIN_MOBILE = re.compile(r"1(?!79)[03-9][0-9]{9}")


def normalise_mobile(raw, field="phone"):
    """A mainland China mobile number in E.164 (+8613812348000), or raise InvalidInput.
    Empty stays empty. The one place phone numbers are checked (users and customers)."""
    raw = (raw or "").strip()
    if not raw:
        return ""
    if _PLAIN_MOBILE.fullmatch(raw):
        # Most numbers (an import's 100,000): what parse() would make of them, without its
        # work (half the time). Valid, in CN and a mobile all follow from the type, as below.
        number = phonenumbers.PhoneNumber(country_code=86, national_number=int(raw))
        if phonenumbers.number_type(number) in MOBILE_TYPES:
            return "+86" + raw
        raise InvalidInput(_("%(value)s is not a valid mobile number.", value=raw[:30]),
                           field=field)
    try:
        number = phonenumbers.parse(raw, "CN")
    except phonenumbers.NumberParseException:
        number = None
    if (number is None or not phonenumbers.is_valid_number(number)
            or phonenumbers.region_code_for_number(number) != "CN"
            or phonenumbers.number_type(number) not in MOBILE_TYPES):
        raise InvalidInput(_("%(value)s is not a valid mobile number.", value=raw[:30]),
                           field=field)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def check_password_rules(password, field="password"):
    """Raise InvalidInput unless the password is long enough and has a letter and a digit."""
    if len(password or "") < PASSWORD_MIN_LENGTH:
        raise InvalidInput(_("The password must be at least %(n)s characters.",
                             n=PASSWORD_MIN_LENGTH), field=field)
    if not (re.search(r"[A-Za-z]", password) and re.search(r"\d", password)):
        raise InvalidInput(_("The password must contain both letters and digits."), field=field)


def _hash(password):
    method = current_app.config.get("PASSWORD_HASH_METHOD", "scrypt")
    return generate_password_hash(password, method=method)


def _check_roles(roles):
    unknown = set(roles) - set(ROLES)
    if unknown:
        raise InvalidInput(_("Unknown role: %(role)s", role=", ".join(sorted(unknown))),
                           field="roles")
    if not roles:
        raise InvalidInput(_("Choose at least one role."), field="roles")


def _set_roles(user, roles):
    wanted = set(roles)
    user.role_rows = [row for row in user.role_rows if row.role in wanted] + [
        UserRole(role=role) for role in ROLES if role in wanted and not user.has_role(role)]


def _user_snapshot(user):
    """A readable summary of a user for the audit log."""
    return {"display_name": user.display_name, "phone": user.phone,
            "department": user.department.path if user.department else "",
            "roles": "、".join(str(label) for label in user.role_labels),
            "is_active": _("Active") if user.is_active else _("Deactivated")}


# --- Operations: departments -------------------------------------------------------------------

def create_department(name, *, parent=None, actor, now=None):
    """Create a department under `parent` (None: a top-level one). Names are unique per parent."""
    name = (name or "").strip()
    if not name:
        raise InvalidInput(_("Enter the department name."), field="name")
    _refuse_duplicate_department(name, parent, None)
    department = Department(name=name, parent=parent, created_at=now or utcnow())
    db.session.add(department)
    db.session.flush()
    audit(actor, "department.create", department, summary=department.path, now=now)
    return department


def update_department(department, *, name, parent, is_active, actor, now=None):
    """Rename, move or (de)activate a department; refuses to move it under itself."""
    name = (name or "").strip()
    if not name:
        raise InvalidInput(_("Enter the department name."), field="name")
    node = parent
    while node is not None:
        if node.id == department.id:
            raise InvalidInput(_("A department cannot be placed under itself or its own "
                                 "sub-department."), field="parent_id")
        node = node.parent
    _refuse_duplicate_department(name, parent, department.id)
    def snapshot():
        return {"department_name": department.path,
                "is_active": _("In use") if department.is_active else _("Not in use")}
    before = snapshot()
    department.name, department.parent, department.is_active = name, parent, is_active
    db.session.flush()
    audit(actor, "department.update", department, summary=department.path, before=before,
          after=snapshot(), now=now)
    return department


def _refuse_duplicate_department(name, parent, own_id):
    query = select(Department.id).where(Department.name == name)
    query = query.where(Department.parent_id == parent.id) if parent is not None else \
        query.where(Department.parent_id.is_(None))
    if own_id is not None:
        query = query.where(Department.id != own_id)
    if db.session.scalar(query) is not None:
        raise Conflict(_("A department named %(name)s already exists there.", name=name),
                       field="name")


# --- Operations: users -------------------------------------------------------------------------

def create_user(*, username, display_name, password, roles, department=None, phone="",
                actor, now=None, must_change_password=False):
    """Create a user with a hashed password and the given roles (`must_change_password`: the
    password is a first one, changed at the first sign-in)."""
    username = (username or "").strip().lower()
    if not USERNAME_RE.match(username):
        raise InvalidInput(_("The sign-in name must be 2–40 letters, digits, dots, dashes or "
                             "underscores."), field="username")
    display_name = (display_name or "").strip()
    if not display_name:
        raise InvalidInput(_("Enter the name shown to others."), field="display_name")
    _check_roles(roles)
    check_password_rules(password)
    phone = normalise_mobile(phone)
    if find_user_by_username(username) is not None:
        raise Conflict(_("The sign-in name %(name)s is already taken.", name=username),
                       field="username")
    user = User(username=username, display_name=display_name, phone=phone,
                department=department, password_hash=_hash(password),
                must_change_password=bool(must_change_password), created_at=now or utcnow())
    _set_roles(user, roles)
    db.session.add(user)
    db.session.flush()
    audit(actor, "user.create", user, summary=f"{user.display_name} ({user.username})",
          after=_user_snapshot(user), now=now)
    return user


def remove_unused_user(user, *, actor, now=None):
    """Remove an account that was never used (an import rolled back): never signed in, and
    nobody's anything. An account that was used is deactivated instead (deactivate_user)."""
    if user.last_login_at is not None:
        raise Conflict(_("%(name)s has signed in: deactivate the account instead.",
                         name=user.display_name))
    summary = f"{user.display_name} ({user.username})"
    try:
        with db.session.begin_nested():
            db.session.execute(UserSession.__table__.delete().where(
                UserSession.user_id == user.id))
            db.session.delete(user)
            db.session.flush()
    except IntegrityError:  # something refers to the account: it was used after all
        raise Conflict(_("%(name)s's account is in use: deactivate it instead.",
                         name=user.display_name)) from None
    audit(actor, "user.remove", None, summary=summary, now=now)


#: Called as handler(user, old_department_id, actor, now) when a user changes department;
#: the customers area moves the user's customers with them.
DEPARTMENT_CHANGE_HANDLERS = []


def update_user(user, *, display_name, phone, department, roles, actor, now=None):
    """Change a user's name, phone, department and roles."""
    display_name = (display_name or "").strip()
    if not display_name:
        raise InvalidInput(_("Enter the name shown to others."), field="display_name")
    _check_roles(roles)
    phone = normalise_mobile(phone)
    if user.id == actor.id and user.has_role("admin") and "admin" not in roles:
        raise InvalidInput(_("You cannot take the administrator role from yourself."),
                           field="roles")
    before = _user_snapshot(user)
    old_department_id = user.department_id
    user.display_name, user.phone, user.department = display_name, phone, department
    _set_roles(user, roles)
    db.session.flush()
    if user.department_id != old_department_id:
        for handler in DEPARTMENT_CHANGE_HANDLERS:
            handler(user, old_department_id, actor, now)
    audit(actor, "user.update", user, summary=f"{user.display_name} ({user.username})",
          before=before, after=_user_snapshot(user), now=now)
    return user


def reset_password(user, new_password, *, actor, now=None):
    """An admin sets a new password for `user`; clears any lock and signs them out elsewhere."""
    check_password_rules(new_password)
    user.password_hash = _hash(new_password)
    user.failed_logins, user.locked_until = 0, None
    user.auth_version += 1
    _end_all_sessions(user)
    db.session.flush()
    audit(actor, "user.reset_password", user, summary=user.username, now=now)


def change_own_password(user, current_password, new_password, *, now=None):
    """The user changes their own password, proving the current one. Every session of theirs
    ends, this one too: the caller starts a new one (start_session) for the device in hand."""
    if not check_password_hash(user.password_hash, current_password or ""):
        raise InvalidInput(_("The current password is wrong."), field="current_password")
    check_password_rules(new_password, field="new_password")
    if current_password == new_password:
        raise InvalidInput(_("The new password must differ from the current one."),
                           field="new_password")
    user.password_hash = _hash(new_password)
    user.must_change_password = False
    user.auth_version += 1
    _end_all_sessions(user)
    db.session.flush()
    audit(user, "user.change_password", user, summary=user.username, now=now)


def deactivate_user(user, *, actor, now=None):
    """A user leaves (离职): they can no longer sign in; everything they recorded stays."""
    if user.id == actor.id:
        raise InvalidInput(_("You cannot deactivate your own account."))
    if not user.is_active:
        raise Conflict(_("%(name)s is already deactivated.", name=user.display_name))
    now = now or utcnow()
    user.is_active, user.deactivated_at = False, now
    user.auth_version += 1
    _end_all_sessions(user)
    db.session.flush()
    audit(actor, "user.deactivate", user, summary=f"{user.display_name} ({user.username})",
          before={"is_active": _("Active")}, after={"is_active": _("Deactivated")}, now=now)


def reactivate_user(user, *, actor, now=None):
    """Let a deactivated user sign in again."""
    if user.is_active:
        raise Conflict(_("%(name)s is already active.", name=user.display_name))
    user.is_active, user.deactivated_at = True, None
    user.failed_logins, user.locked_until = 0, None
    db.session.flush()
    audit(actor, "user.reactivate", user, summary=f"{user.display_name} ({user.username})",
          before={"is_active": _("Deactivated")}, after={"is_active": _("Active")}, now=now)


def unlock_user(user, *, actor, now=None):
    """Lift a sign-in lock before it runs out."""
    user.failed_logins, user.locked_until = 0, None
    db.session.flush()
    audit(actor, "user.unlock", user, summary=user.username, now=now)


def set_locale(user, locale):
    """Set the user's interface language ("" for the company default)."""
    if locale and locale not in current_app.config["LANGUAGES"]:
        raise InvalidInput(_("Unknown language."), field="locale")
    user.locale = locale
    db.session.flush()


# --- Operations: sessions ----------------------------------------------------------------------

def start_session(user, *, now=None):
    """Record a new signed-in session for `user` (at sign-in; after a password change) and
    return its id; user.get_id() names it from then on. Also removes the user's sessions past
    SESSION_MAX_AGE, so the table holds no more than each user's recent sign-ins."""
    now = now or utcnow()
    db.session.execute(delete(UserSession).where(
        UserSession.user_id == user.id, UserSession.created_at <= now - SESSION_MAX_AGE))
    key = secrets.token_urlsafe(24)
    db.session.add(UserSession(id=key, user_id=user.id, created_at=now))
    db.session.flush()
    user.session_key = key
    return key


def end_session(user, session_key):
    """Sign one session out: no copy of its cookie signs in again. The user's other sessions
    (other devices) stay."""
    db.session.execute(delete(UserSession).where(UserSession.id == session_key,
                                                 UserSession.user_id == user.id))
    user.session_key = None


def _end_all_sessions(user):
    """Every session of `user` ends (a password change, a deactivation)."""
    db.session.execute(delete(UserSession).where(UserSession.user_id == user.id))
    user.session_key = None


# --- Operations: sign-in -----------------------------------------------------------------------

class SignInRefused(InvalidInput):
    """Sign-in refused. Unlike other errors, the caller commits: the audit row must stay."""
    status = 401


class SignInThrottled(SignInRefused):
    """Too many failed sign-ins from one address: refused before any password is checked."""
    status = 429

    def __init__(self, message, retry_after):
        super().__init__(message)
        self.headers = {"Retry-After": str(retry_after)}


def _check_address(ip, typed, now):
    """Refuse a sign-in from an address with too many failures in the window (settings). The
    failures are the audit log's, so every worker and host counts the same ones."""
    if not ip:
        return
    window = get_setting("security.address_window_minutes")
    failures = db.session.scalar(select(func.count(AuditEntry.id)).where(
        AuditEntry.at >= now - timedelta(minutes=window),
        AuditEntry.action.in_(("auth.sign_in_failed", "auth.locked")), AuditEntry.ip == ip))
    if failures >= get_setting("security.max_failed_per_address"):
        audit(None, "auth.throttled", actor_name=typed, summary=_l("Too many failed sign-ins "
                                                                   "from this address"),
              ip=ip, now=now)
        raise SignInThrottled(_("Too many failed sign-ins from this device. Wait %(n)s minutes "
                                "and try again, or ask an administrator.", n=window),
                              retry_after=window * 60)


def sign_in(username, password, *, ip=None, now=None):
    """Check a sign-in; return the user, or record the failure and raise SignInRefused.

    Five failures in a row (a setting) lock the account for 15 minutes (a setting); a locked
    account is refused even with the right password. Twenty failures from one address within 15
    minutes (settings) refuse that address, whichever names it tried. Every attempt is audited.

    No answer tells whether an account exists: an unknown name, a wrong password, a locked
    account (whatever the password) all get the same message, which names the lockout rule
    but never the attempts left, and the password is hashed in every case (the same time).
    Only the right password of a deactivated account says so.
    """
    now = now or utcnow()
    typed = (username or "").strip()[:100]
    _check_address(ip, typed, now)
    # Locked: two tablets failing at once must not both count from the same number.
    user = find_user_by_username(typed, for_update=True)
    right = check_password_hash(user.password_hash if user is not None else _decoy_hash(),
                                password or "")
    refused = SignInRefused(_("Wrong sign-in name or password. After %(n)s wrong passwords in "
                              "a row an account is locked for %(m)s minutes.",
                              n=get_setting("security.max_failed_logins"),
                              m=get_setting("security.lockout_minutes")))
    if user is None:
        audit(None, "auth.sign_in_failed", actor_name=typed, summary=_l("Unknown user"), ip=ip,
              now=now)
        raise refused
    if not user.is_active:
        audit(user, "auth.sign_in_failed", user, summary=_l("Account deactivated"), ip=ip,
              now=now)
        if not right:
            raise refused
        raise SignInRefused(_("This account has been deactivated. Ask an administrator if you "
                              "need access again."))
    if user.is_locked(now):
        audit(user, "auth.sign_in_failed", user, summary=_l("Account locked"), ip=ip, now=now)
        raise refused
    if not right:
        limit = get_setting("security.max_failed_logins")
        user.failed_logins = (user.failed_logins or 0) + 1
        if user.failed_logins >= limit:
            minutes = get_setting("security.lockout_minutes")
            user.failed_logins, user.locked_until = 0, now + timedelta(minutes=minutes)
            audit(user, "auth.locked", user, summary=_l("Locked after %(n)s wrong passwords",
                                                        n=limit), ip=ip, now=now)
        else:
            audit(user, "auth.sign_in_failed", user, summary=_l("Wrong password"), ip=ip,
                  now=now)
        raise refused
    user.failed_logins, user.locked_until, user.last_login_at = 0, None, now
    audit(user, "auth.sign_in", user, ip=ip, now=now)
    return user


def _decoy_hash():
    """A hash of no one's password, checked when the name is unknown: the answer takes as long
    as for a real account."""
    return _decoy_hash_for(current_app.config.get("PASSWORD_HASH_METHOD", "scrypt"))


@lru_cache(maxsize=4)
def _decoy_hash_for(method):
    return generate_password_hash(secrets.token_hex(16), method=method)


register_actions({
    "auth.sign_in": _l("Signed in"),
    "auth.sign_in_failed": _l("Failed sign-in"),
    "auth.locked": _l("Account locked"),
    "auth.throttled": _l("Sign-in refused (too many failures from the address)"),
    "auth.sign_out": _l("Signed out"),
    "user.create": _l("Created user"),
    "user.remove": _l("Removed an unused account (an import rolled back)"),
    "user.update": _l("Changed user"),
    "user.reset_password": _l("Reset password"),
    "user.change_password": _l("Changed own password"),
    "user.deactivate": _l("Deactivated user"),
    "user.reactivate": _l("Reactivated user"),
    "user.unlock": _l("Unlocked user"),
    "department.create": _l("Created department"),
    "department.update": _l("Changed department"),
})

register_targets({"users": _l("User"), "departments": _l("Department")})
register_fields({"display_name": _l("Name"), "phone": _l("Mobile"), "department": _l("Department"),
                 "roles": _l("Roles"), "is_active": _l("Status"), "department_name": _l("Department name")})

define_area("security", _l("Sign-in and security"))
define("security.max_failed_logins", "int", 5, _l("Wrong passwords before lock"),
       _l("Wrong passwords in a row that lock an account."), min=3, max=20)
define("security.lockout_minutes", "int", 15, _l("Lock duration (minutes)"),
       _l("How long a locked account stays locked."), min=1, max=1440)
define("security.max_failed_per_address", "int", 20, _l("Failed sign-ins per address"),
       _l("Failed sign-ins from one network address, within the window below, after which that "
          "address must wait."), min=5, max=1000)
define("security.address_window_minutes", "int", 15, _l("Address window (minutes)"),
       _l("The window in which failed sign-ins from one address are counted."), min=1,
       max=1440)


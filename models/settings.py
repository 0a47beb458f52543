"""Business settings an admin may change: database rows over typed defaults declared per area.

An area declares its settings at import (``define("pool.days_without_contact", int, 30, ...)``);
get_setting() returns the stored value or the default; update_settings() is the one operation
that changes them (validated, audited). Values are read from the database once per request,
so every worker and the scheduler see a change at once — except that a signed-in request whose
user was loaded with the settings' version (accounts.load_user: version_column) reuses what this
process last read under that same version, and reads nothing. Each save writes a new version.
"""
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import g, has_app_context
from flask_babel import gettext as _, lazy_gettext as _l
from sqlalchemy import ForeignKey, JSON, String, select
from sqlalchemy.orm import Mapped, mapped_column

from extensions import db
from models.audit import audit, register_actions, register_fields, register_values
from models.base import InvalidInput, UTCDateTime, utcnow


@dataclass(frozen=True)
class SettingDef:
    """One setting: its key (``area.name``), type, default, label and bounds."""
    key: str
    type: str  # "int", "str", "bool", "timezone", "roles" (a list of role codes)
    default: object
    label: object
    help: object = ""
    min: int | None = None
    max: int | None = None
    max_length: int = 200
    #: (stored value, label) pairs of a text setting chosen from a list: the form offers the
    #: labels, the database keeps the values. A "roles" setting: the roles it may hold (its
    #: area passes accounts.ROLES: settings sits below accounts and reads nothing of it).
    choices: tuple = field(default=())
    #: A further check of a cleaned text value (e.g. a product code must exist): raises
    #: InvalidInput with its message.
    check: object = None

    @property
    def area(self):
        return self.key.split(".", 1)[0]


#: Declared settings, by key (definitions are code, not data: no cache to invalidate).
DEFINITIONS = {}

#: Area code → label, for grouping on the settings page.
AREAS = {}


def define(key, type, default, label, help="", **bounds):
    """Declare a setting with its typed default. Called at import by the area that owns it."""
    definition = SettingDef(key, type, default, label, help, **bounds)
    DEFINITIONS[key] = definition
    register_fields({key: label})  # the audit log shows a change under the setting's label
    if definition.choices:  # and the labels of the values chosen
        register_values({key: dict(definition.choices)})
    return definition


def define_area(code, label):
    """Give an area of settings its label on the settings page."""
    AREAS[code] = label


class Setting(db.Model):
    __tablename__ = "settings"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[object] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


_ALL_SETTINGS = select(Setting.key, Setting.value)

#: The row (not a setting: it has no definition) whose value every save replaces with a new
#: random token: the settings' version. Random, not a count, so that a restored backup or a
#: rolled-back save never shows a version this process has seen with other values.
VERSION_KEY = "_version"
_VERSION = select(Setting.value).where(Setting.key == VERSION_KEY).scalar_subquery()

#: (version, settings) this process read last; a request that knows the current version (from
#: the query that loaded its user) and finds it here reads nothing. The version is None until
#: the first save (every save goes through update_settings, which writes it).
_UNKNOWN = object()
_last_read = (_UNKNOWN, {})


def version_column():
    """The settings' version as a column, to read with a query the request runs anyway (the
    signed-in user's: accounts.load_user); hand its value to note_version()."""
    return _VERSION.label("settings_version")


def note_version(version):
    """The settings' version as this request found it (None: never saved)."""
    if has_app_context():
        g._settings_version = version


def _cache():
    # The context's `g` looked up once (each look-up through the proxy costs; a nightly job
    # asks for a setting hundreds of thousands of times).
    global _last_read
    if not has_app_context():
        return {}
    store = g._get_current_object()
    settings = getattr(store, "_settings", None)
    if settings is None:
        version, last = _last_read
        if version is not _UNKNOWN and getattr(store, "_settings_version", _UNKNOWN) == version:
            settings = store._settings = last
        else:
            settings = store._settings = dict(db.session.execute(_ALL_SETTINGS).all())
            _last_read = (settings.get(VERSION_KEY), settings)
    return settings


def read_settings():
    """Read the settings now (once per request), e.g. before SQLite's write lock is taken."""
    _cache()


def get_setting(key):
    """The current value of a declared setting (stored, else its default)."""
    definition = DEFINITIONS[key]
    stored = _cache().get(key, None)
    return definition.default if stored is None else stored


def clean_value(definition, raw):
    """Convert and check one submitted value; raise InvalidInput with a message a clerk can act on."""
    label = definition.label
    if definition.type == "bool":
        return bool(raw)
    if definition.type == "roles":
        roles = dict(definition.choices)
        values = [raw] if isinstance(raw, str) else list(raw or [])
        if any(value not in roles for value in values):
            raise InvalidInput(_("%(label)s has an invalid choice.", label=label),
                               field=definition.key)
        return [role for role in roles if role in values]
    if definition.type == "int":
        try:
            value = int(raw)
        except (TypeError, ValueError):
            raise InvalidInput(_("%(label)s must be a whole number.", label=label),
                               field=definition.key) from None
        if definition.min is not None and value < definition.min:
            raise InvalidInput(_("%(label)s must be at least %(min)s.", label=label,
                                 min=definition.min), field=definition.key)
        if definition.max is not None and value > definition.max:
            raise InvalidInput(_("%(label)s must be at most %(max)s.", label=label,
                                 max=definition.max), field=definition.key)
        return value
    value = ("" if raw is None else str(raw)).strip()
    if definition.type == "timezone":
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise InvalidInput(_("%(value)s is not a known time zone (for example "
                                 "Asia/Shanghai).", value=value), field=definition.key) from None
        return value
    if not value and definition.min:
        raise InvalidInput(_("%(label)s is required.", label=label), field=definition.key)
    if len(value) > definition.max_length:
        raise InvalidInput(_("%(label)s can be at most %(n)s characters.", label=label,
                             n=definition.max_length), field=definition.key)
    if definition.choices and value not in dict(definition.choices):
        raise InvalidInput(_("%(label)s has an invalid choice.", label=label),
                           field=definition.key)
    if definition.check is not None and value:
        definition.check(value, definition)
    return value


def update_settings(values, *, actor, now=None):
    """Validate and store the settings in `values` ({key: raw value}); all or nothing.

    Returns the keys that changed. Unknown keys are refused.
    """
    now = now or utcnow()
    cleaned = {}
    for key, raw in values.items():
        if key not in DEFINITIONS:
            raise InvalidInput(_("Unknown setting: %(key)s", key=key))
        cleaned[key] = clean_value(DEFINITIONS[key], raw)
    changed = [key for key, value in cleaned.items() if get_setting(key) != value]
    if not changed:
        return []
    before = {key: get_setting(key) for key in changed}
    for key in changed:
        row = db.session.get(Setting, key) or Setting(key=key)
        row.value, row.updated_at, row.updated_by_id = cleaned[key], now, actor.id
        db.session.add(row)
    version = db.session.get(Setting, VERSION_KEY) or Setting(key=VERSION_KEY)
    version.value, version.updated_at, version.updated_by_id = uuid.uuid4().hex, now, actor.id
    db.session.add(version)
    db.session.flush()
    g.pop("_settings", None)
    g.pop("_settings_version", None)  # read again, in this transaction
    audit(actor, "settings.update", summary=", ".join(changed), before=before,
          after={key: cleaned[key] for key in changed}, now=now)
    return changed


register_actions({"settings.update": _l("Changed settings")})

define_area("general", _l("Company"))
define("general.company_name", "str", "会销通示范公司", _l("Company name"),
       _l("Printed on every report, receipt and invitation."), min=1, max_length=100)
define("general.timezone", "timezone", "Asia/Shanghai", _l("Time zone"),
       _l("Times are stored in UTC and shown in this zone."))

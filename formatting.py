"""One formatting helper per kind of value, used as Jinja filters and in printed reports.

Money is integer fen in the database and becomes ¥1,234.50 only here; times are stored in UTC
and shown in the company's time zone (a setting, Asia/Shanghai by default).
"""
from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo


def fen(value, symbol="¥"):
    """Integer fen → "¥1,234.50" (negative: "-¥1,234.50"). Integer arithmetic only."""
    if value is None:
        return ""
    value = int(value)
    sign = "-" if value < 0 else ""
    yuan, cents = divmod(abs(value), 100)
    return f"{sign}{symbol}{yuan:,}.{cents:02d}"


def company_zone():
    """The company's time zone (from the settings)."""
    from models.settings import get_setting
    return ZoneInfo(get_setting("general.timezone"))


def to_local(value, zone=None):
    """An aware UTC datetime → the same instant in the company's zone."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(zone or company_zone())


def local_dt(value, fmt="%Y-%m-%d %H:%M", zone=None):
    """A stored (UTC) datetime shown in the company's time zone."""
    if value is None:
        return ""
    return to_local(value, zone).strftime(fmt)


def local_date(value, zone=None):
    """A date, or a stored datetime's date in the company's time zone, as 2026-11-25."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = to_local(value, zone).date()
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def local_day(value, zone=None):
    """The date of a stored (UTC) datetime in the company's time zone, as a date."""
    return to_local(value, zone).date()


def masked_phone(value):
    """A phone number with its middle hidden: +8613812348000 → 138****8000."""
    digits = national_phone(value)
    if len(digits) < 7:
        return "*" * len(digits)
    return f"{digits[:3]}****{digits[-4:]}"


def national_phone(value):
    """An E.164 mainland number without its +86 prefix (other strings unchanged)."""
    value = value or ""
    return value[3:] if value.startswith("+86") else value


def long_date(value):
    """A day in words for customers and receipts: 2026年12月2日星期三 (the locale's full form)."""
    if value is None:
        return ""
    from flask_babel import format_date
    return format_date(value, "full")


FILTERS = {"long_date": long_date, "fen": fen, "local_dt": local_dt, "local_date": local_date,
           "masked_phone": masked_phone, "phone": national_phone}

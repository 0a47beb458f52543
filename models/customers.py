"""The customer archive (顾客档案): one record per person, owned by the company.

Tables: Customer, Channel and Tag (managed lists), ContactLog (跟进记录), OwnershipChange (every
transfer, release to and claim from the public pool). Then reads (search, filters), then the
operations that change them. Import from .xlsx lives in models/customer_import.py.
"""
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import phonenumbers
from flask_babel import gettext as _, lazy_gettext as _l
from lunar_python import LunarYear
from pypinyin import Style, lazy_pinyin
from sqlalchemy import (Boolean, CheckConstraint, Column, Date, ForeignKey, Index, Integer,
                        String, Table, Text, and_, func, or_, select)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from extensions import db
from formatting import company_zone
from models.accounts import User
from models.audit import audit, register_actions, register_fields, register_targets
from models.base import Conflict, InvalidInput, NotFound, PermissionDenied, UTCDateTime, utcnow
from models.scoping import can_see_full_phone, department_subtree_ids, scoped
from models.settings import define, define_area, get_setting
from models.timeline import TimelineItem, register_provider

GENDERS = {"": _l("Unknown"), "F": _l("Female"), "M": _l("Male")}
GRADES = ("A", "B", "C", "D")
STATUSES = {"active": _l("Active"), "pool": _l("Public pool"), "dormant": _l("Dormant")}
CONTACT_KINDS = {"call": _l("Phone call"), "visit": _l("Visit"), "sms": _l("SMS"),
                 "wechat": _l("WeChat")}
OWNERSHIP_KINDS = {"create": _l("Registered as a customer"), "transfer": _l("Transferred"),
                   "release": _l("Released to the pool"), "claim": _l("Claimed from the pool"),
                   "assign": _l("Assigned from the pool"),
                   "reclaim": _l("Reclaimed to the pool (no follow-up)")}
DEFAULT_CHANNELS = ["会议营销", "门店", "电话", "转介绍", "地推", "网络", "其他"]

customer_tags = Table(
    "customer_tags", db.metadata,
    Column("customer_id", ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True),
    Column("tag_id", ForeignKey("tags.id", ondelete="CASCADE"), primary_key=True, index=True),
)


class Channel(db.Model):
    """Where customers come from (来源渠道): a list admins manage."""
    __tablename__ = "channels"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(30), unique=True)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    sort: Mapped[int] = mapped_column(Integer, default=0)


class Tag(db.Model):
    """A label put on customers (e.g. 高血压, 老会员): a list admins manage."""
    __tablename__ = "tags"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(30), unique=True)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)


class Customer(db.Model):
    __tablename__ = "customers"
    __table_args__ = (
        CheckConstraint("status IN ('active', 'pool', 'dormant')", name="known_status"),
        CheckConstraint("grade IN ('', 'A', 'B', 'C', 'D')", name="known_grade"),
        CheckConstraint("birthday_kind IN ('', 'solar', 'lunar')", name="known_birthday_kind"),
        CheckConstraint("status <> 'pool' OR owner_id IS NULL", name="pool_has_no_owner"),
        Index("ix_customers_owner_status", "owner_id", "status"),
    )
    #: For models.scoping: the owner, the department, and the public pool everyone may see.
    __scope__ = {"owner": "owner_id", "department": "department_id",
                 "pool": lambda: Customer.status == "pool"}

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(40), index=True)
    #: Lower-case pinyin of the name without spaces ("zhangsan") and its initials ("zs").
    name_pinyin: Mapped[str] = mapped_column(String(160), index=True)
    name_initials: Mapped[str] = mapped_column(String(40), index=True)
    gender: Mapped[str] = mapped_column(String(1), default="")
    #: Mobile in E.164 (+8613812348000): one mobile belongs to one customer.
    phone: Mapped[str] = mapped_column(String(20), unique=True)
    #: The 11 national digits reversed, so a phone-tail search is an indexed prefix search.
    phone_reversed: Mapped[str] = mapped_column(String(20), index=True)
    phone2: Mapped[str] = mapped_column(String(20), default="")
    address: Mapped[str] = mapped_column(String(200), default="")
    district: Mapped[str] = mapped_column(String(40), default="")
    channel_id: Mapped[int | None] = mapped_column(ForeignKey("channels.id"))
    referrer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"), index=True)
    grade: Mapped[str] = mapped_column(String(1), default="")
    #: A grade set by hand wins over the nightly grading until cleared.
    grade_is_manual: Mapped[bool] = mapped_column(Boolean, default=False)
    health_notes: Mapped[str] = mapped_column(Text, default="")
    #: "solar" (birthday holds the date), "lunar" (lunar_month/day/leap) or "".
    birthday_kind: Mapped[str] = mapped_column(String(5), default="")
    birthday: Mapped[date | None] = mapped_column(Date)
    lunar_month: Mapped[int | None] = mapped_column(Integer)
    lunar_day: Mapped[int | None] = mapped_column(Integer)
    lunar_leap: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Year of birth, when known (from the solar birthday, or given with a lunar one).
    birth_year: Mapped[int | None] = mapped_column(Integer)
    #: Month of the solar birthday (1–12), for the birthday-month filter.
    birth_month: Mapped[int | None] = mapped_column(Integer, index=True)
    anniversary: Mapped[date | None] = mapped_column(Date)
    do_not_call: Mapped[bool] = mapped_column(Boolean, default=False)
    do_not_sms: Mapped[bool] = mapped_column(Boolean, default=False)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"), index=True)
    status: Mapped[str] = mapped_column(String(10), default="active", index=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    last_contact_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    #: When the customer last went to the public pool (for the pool list).
    pooled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    owner = relationship("User", foreign_keys=[owner_id], lazy="joined")
    department = relationship("Department", lazy="joined")
    channel = relationship("Channel", lazy="joined")
    referrer = relationship("Customer", remote_side=[id], lazy="select")
    tags = relationship("Tag", secondary=customer_tags, lazy="selectin", order_by="Tag.name")
    created_by = relationship("User", foreign_keys=[created_by_id])

    def __repr__(self):
        return f"<Customer {self.id} {self.name}>"

    @property
    def phone_national(self):
        return self.phone[3:] if self.phone.startswith("+86") else self.phone

    @property
    def age(self):
        """Age in whole years today (company time zone), if the birth year is known."""
        if not self.birth_year:
            return None
        today = datetime.now(company_zone()).date()
        if self.birthday:
            return today.year - self.birthday.year - (
                (today.month, today.day) < (self.birthday.month, self.birthday.day))
        return today.year - self.birth_year

    @property
    def birthday_text(self):
        """1950-03-08, or 农历 三月初八 (闰) with the year when known."""
        if self.birthday_kind == "solar" and self.birthday:
            return self.birthday.isoformat()
        if self.birthday_kind == "lunar" and self.lunar_month:
            text = _("Lunar %(leap)s%(month)s/%(day)s", leap=_("leap ") if self.lunar_leap
                     else "", month=self.lunar_month, day=self.lunar_day)
            return f"{self.birth_year} {text}" if self.birth_year else text
        return ""


class ContactLog(db.Model):
    """One contact with a customer (跟进记录): a call, a visit, an SMS, a WeChat chat."""
    __tablename__ = "contact_logs"
    __table_args__ = (Index("ix_contact_logs_customer_at", "customer_id", "at"),
                      CheckConstraint("kind IN ('call', 'visit', 'sms', 'wechat')",
                                      name="known_kind"))

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    kind: Mapped[str] = mapped_column(String(10))
    content: Mapped[str] = mapped_column(Text)
    outcome: Mapped[str] = mapped_column(String(200), default="")
    next_follow_up: Mapped[date | None] = mapped_column(Date)
    actor_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    actor = relationship("User", lazy="joined")


class OwnershipChange(db.Model):
    """Who owned a customer before and after, and why: transfer, pool release, claim, assign."""
    __tablename__ = "ownership_changes"
    __table_args__ = (Index("ix_ownership_changes_customer_at", "customer_id", "at"),
                      Index("ix_ownership_changes_actor_kind_at", "actor_id", "kind", "at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    kind: Mapped[str] = mapped_column(String(10))
    from_owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    to_owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reason: Mapped[str] = mapped_column(String(200), default="")
    #: NULL when a job did it (the nightly pool reclaim).
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    from_owner = relationship("User", foreign_keys=[from_owner_id], lazy="joined")
    to_owner = relationship("User", foreign_keys=[to_owner_id], lazy="joined")
    actor = relationship("User", foreign_keys=[actor_id], lazy="joined")


# --- Normalising input -------------------------------------------------------------------------

def pinyin_of(name):
    """(full pinyin, initials) of a name, lower-case, no spaces: 张三 → ("zhangsan", "zs")."""
    syllables = [s.lower() for s in lazy_pinyin(name or "", errors="default") if s.strip()]
    initials = [s.lower() for s in lazy_pinyin(name or "", style=Style.FIRST_LETTER)
                if s.strip()]
    clean = re.compile(r"[^0-9a-z]")
    return clean.sub("", "".join(syllables)), clean.sub("", "".join(initials))


def normalise_phone(raw, field="phone", required=True):
    """A mainland mobile in E.164, or InvalidInput with the reason."""
    raw = (raw or "").strip()
    if not raw:
        if required:
            raise InvalidInput(_("Enter the mobile number."), field=field)
        return ""
    try:
        number = phonenumbers.parse(raw, "CN")
    except phonenumbers.NumberParseException:
        number = None
    mobile = (phonenumbers.PhoneNumberType.MOBILE,
              phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE)
    if number is None or not phonenumbers.is_valid_number(number) or \
            phonenumbers.number_type(number) not in mobile:
        raise InvalidInput(_("%(value)s is not a valid mobile number.", value=raw), field=field)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def check_lunar_birthday(month, day, leap, year=None):
    """Raise InvalidInput unless month/day (leap) is a lunar date that exists (in `year`)."""
    if not month or not 1 <= month <= 12:
        raise InvalidInput(_("The lunar month must be 1–12."), field="lunar_month")
    if not day or not 1 <= day <= 30:
        raise InvalidInput(_("The lunar day must be 1–30."), field="lunar_day")
    if year:
        lunar_month = LunarYear.fromYear(year).getMonth(-month if leap else month)
        if lunar_month is None:
            raise InvalidInput(_("Lunar year %(year)s has no leap month %(month)s.", year=year,
                                 month=month), field="lunar_month")
        if day > lunar_month.getDayCount():
            raise InvalidInput(_("Lunar month %(month)s of %(year)s has only %(n)s days.",
                                 month=month, year=year, n=lunar_month.getDayCount()),
                               field="lunar_day")


@dataclass
class CustomerData:
    """What a person may type about a customer (the form, or an import row), unchecked."""
    name: str = ""
    phone: str = ""
    gender: str = ""
    phone2: str = ""
    address: str = ""
    district: str = ""
    channel_id: int | None = None
    referrer_id: int | None = None
    grade: str = ""
    health_notes: str = ""
    birthday_kind: str = ""
    birthday: date | None = None
    lunar_month: int | None = None
    lunar_day: int | None = None
    lunar_leap: bool = False
    birth_year: int | None = None
    anniversary: date | None = None
    do_not_call: bool = False
    do_not_sms: bool = False
    tag_ids: tuple = ()


def _clean(data, *, today, own_id=None):
    """Check CustomerData; return a dict of column values. Raises InvalidInput."""
    name = (data.name or "").strip()
    if not name:
        raise InvalidInput(_("Enter the customer's name."), field="name")
    if len(name) > 40:
        raise InvalidInput(_("The name can be at most 40 characters."), field="name")
    values = {"name": name, "phone": normalise_phone(data.phone),
              "phone2": normalise_phone(data.phone2, field="phone2", required=False),
              "gender": data.gender if data.gender in GENDERS else "",
              "address": (data.address or "").strip()[:200],
              "district": (data.district or "").strip()[:40],
              "health_notes": (data.health_notes or "").strip(),
              "do_not_call": bool(data.do_not_call), "do_not_sms": bool(data.do_not_sms),
              "anniversary": data.anniversary}
    if data.grade and data.grade not in GRADES:
        raise InvalidInput(_("The grade must be A, B, C or D."), field="grade")
    values["grade"] = data.grade or ""
    values["name_pinyin"], values["name_initials"] = pinyin_of(name)
    values["phone_reversed"] = values["phone"][3:][::-1]
    if data.channel_id and db.session.get(Channel, data.channel_id) is None:
        raise InvalidInput(_("Unknown source channel."), field="channel_id")
    values["channel_id"] = data.channel_id or None
    if data.referrer_id:
        if own_id is not None and data.referrer_id == own_id:
            raise InvalidInput(_("A customer cannot be their own referrer."),
                               field="referrer_id")
        if db.session.get(Customer, data.referrer_id) is None:
            raise InvalidInput(_("The referrer does not exist."), field="referrer_id")
    values["referrer_id"] = data.referrer_id or None
    if data.anniversary and data.anniversary > today:
        raise InvalidInput(_("The anniversary cannot be in the future."), field="anniversary")
    values.update(birthday_kind="", birthday=None, lunar_month=None, lunar_day=None,
                  lunar_leap=False, birth_year=None, birth_month=None)
    if data.birthday_kind == "solar" and data.birthday:
        if data.birthday > today:
            raise InvalidInput(_("The birthday cannot be in the future."), field="birthday")
        if data.birthday.year < 1900:
            raise InvalidInput(_("The birthday is too long ago."), field="birthday")
        values.update(birthday_kind="solar", birthday=data.birthday,
                      birth_year=data.birthday.year, birth_month=data.birthday.month)
    elif data.birthday_kind == "lunar" and (data.lunar_month or data.lunar_day):
        year = data.birth_year or None
        if year and not 1900 <= year <= today.year:
            raise InvalidInput(_("The year of birth must be between 1900 and this year."),
                               field="birth_year")
        check_lunar_birthday(data.lunar_month, data.lunar_day, data.lunar_leap, year)
        values.update(birthday_kind="lunar", lunar_month=data.lunar_month,
                      lunar_day=data.lunar_day, lunar_leap=bool(data.lunar_leap),
                      birth_year=year)
    elif data.birth_year:
        values["birth_year"] = data.birth_year
    return values


# --- Reads -------------------------------------------------------------------------------------

def find_by_phone(phone):
    """The customer with this mobile (any format), or None."""
    try:
        normalised = normalise_phone(phone)
    except InvalidInput:
        return None
    return db.session.scalar(select(Customer).where(Customer.phone == normalised))


def visible_customers(user):
    """A select of the customers `user` may see (own + pool for a marketer, and so on)."""
    return scoped(select(Customer), user, Customer)


def get_customer_or_404(customer_id, user):
    """The customer if `user` may see them, else NotFound."""
    from models.scoping import get_scoped_or_404
    return get_scoped_or_404(Customer, customer_id, user)


def _prefix(column, text):
    """column starts with `text`, as an index-friendly range (no LIKE, no escaping)."""
    return and_(column >= text, column < text + "\uffff")


def search_clause(text):
    """The WHERE clause of the one search box: a phone tail (4+ digits), a full phone, a name,
    pinyin or initials. None for an empty box."""
    text = (text or "").strip()
    if not text:
        return None
    digits = re.sub(r"[\s-]", "", text)
    if digits.startswith("+86"):
        digits = digits[3:]
    if digits.isdigit():
        if len(digits) >= 11:
            phone = "+86" + digits[-11:]
            return or_(Customer.phone == phone, Customer.phone2 == phone)
        if len(digits) >= 4:
            return _prefix(Customer.phone_reversed, digits[::-1])
        return Customer.id == int(digits)  # a short number: the customer number
    lowered = text.lower().replace(" ", "")
    if re.fullmatch(r"[a-z]+", lowered):
        return or_(_prefix(Customer.name_initials, lowered),
                   _prefix(Customer.name_pinyin, lowered))
    return _prefix(Customer.name, text)


@dataclass
class CustomerFilter:
    """The filters of the customer list (None/empty means any)."""
    q: str = ""
    owner_id: int | None = None
    department_id: int | None = None
    grade: str = ""
    tag_id: int | None = None
    channel_id: int | None = None
    status: str = ""
    birth_month: int | None = None
    #: Only customers whose last contact is older than this many days (or never).
    idle_days: int | None = None
    sort: str = "recent"


SORTS = {
    "recent": (Customer.created_at.desc(), Customer.id.desc()),
    "name": (Customer.name_pinyin, Customer.id),
    "last_contact": (Customer.last_contact_at.is_(None).desc(), Customer.last_contact_at,
                     Customer.id),
    "grade": (Customer.grade == "", Customer.grade, Customer.id),
}


def find_customers(user, filters, now=None):
    """A select of the customers `user` may see that match `filters`, sorted."""
    query = visible_customers(user)
    if (clause := search_clause(filters.q)) is not None:
        query = query.where(clause)
    if filters.owner_id:
        query = query.where(Customer.owner_id == filters.owner_id)
    if filters.department_id:
        query = query.where(Customer.department_id.in_(
            department_subtree_ids(filters.department_id)))
    if filters.grade in GRADES:
        query = query.where(Customer.grade == filters.grade)
    if filters.tag_id:
        query = query.where(Customer.id.in_(select(customer_tags.c.customer_id).where(
            customer_tags.c.tag_id == filters.tag_id)))
    if filters.channel_id:
        query = query.where(Customer.channel_id == filters.channel_id)
    if filters.status in STATUSES:
        query = query.where(Customer.status == filters.status)
    if filters.birth_month:
        query = query.where(or_(Customer.birth_month == filters.birth_month,
                                and_(Customer.birthday_kind == "lunar",
                                     Customer.lunar_month == filters.birth_month)))
    if filters.idle_days:
        cutoff = (now or utcnow()) - timedelta(days=filters.idle_days)
        query = query.where(or_(Customer.last_contact_at.is_(None),
                                Customer.last_contact_at < cutoff))
    return query.order_by(*SORTS.get(filters.sort, SORTS["recent"]))


def duplicate_of(phone, own_id=None):
    """The customer who already has this mobile (other than `own_id`), or None."""
    query = select(Customer).where(Customer.phone == phone)
    if own_id is not None:
        query = query.where(Customer.id != own_id)
    return db.session.scalar(query)


class DuplicateCustomer(Conflict):
    """The mobile belongs to another customer; `existing` is that customer."""

    def __init__(self, existing):
        super().__init__(_("This mobile already belongs to customer %(name)s (No. %(id)s).",
                           name=existing.name, id=existing.id), field="phone")
        self.existing = existing


def claims_today(user, now=None):
    """How many customers `user` has claimed from the pool today (company time zone)."""
    now = now or utcnow()
    local = now.astimezone(company_zone())
    start = local.replace(hour=0, minute=0, second=0, microsecond=0)
    return db.session.scalar(select(func.count(OwnershipChange.id)).where(
        OwnershipChange.actor_id == user.id, OwnershipChange.kind == "claim",
        OwnershipChange.at >= start)) or 0


def owned_count(user):
    return db.session.scalar(select(func.count(Customer.id)).where(
        Customer.owner_id == user.id, Customer.status != "pool")) or 0


def may_export(user):
    """Exporting the customer list is a permission (a setting: which roles)."""
    return user.has_role(*get_setting("customers.export_roles"))


def reveal_phone(customer, *, actor, ip=None, now=None):
    """Return the full mobile numbers for an allowed user, recording that they looked."""
    if not can_see_full_phone(actor, owner_id=customer.owner_id,
                              department_id=customer.department_id):
        raise PermissionDenied(_("Only the owner, their department head, managers and "
                                 "administrators may see the full number."))
    audit(actor, "customer.show_phone", customer, summary=customer.name, ip=ip, now=now)
    return customer.phone_national, (customer.phone2[3:] if customer.phone2.startswith("+86")
                                     else customer.phone2)


# --- Operations --------------------------------------------------------------------------------

def _default_owner(actor, owner):
    """The owner of a new customer: the chosen one, else the actor if a marketer."""
    if owner is not None:
        if not owner.is_active or not owner.has_role("marketer"):
            raise InvalidInput(_("%(name)s is not an active marketer.", name=owner.display_name),
                               field="owner_id")
        return owner
    if actor is not None and actor.has_role("marketer"):
        return actor
    raise InvalidInput(_("Choose the marketer this customer belongs to."), field="owner_id")


def create_customer(data, *, actor, owner=None, now=None, quiet=False):
    """Register a customer. A mobile that already belongs to someone raises DuplicateCustomer.

    `quiet` skips the per-customer audit entry (an import writes one for the whole file; the
    ownership change is still recorded per customer)."""
    now = now or utcnow()
    values = _clean(data, today=now.astimezone(company_zone()).date())
    if (existing := duplicate_of(values["phone"])) is not None:
        raise DuplicateCustomer(existing)
    owner = _default_owner(actor, owner)
    _check_may_own(actor, owner)
    customer = Customer(**values, owner=owner, department_id=owner.department_id,
                        status="active", created_by_id=getattr(actor, "id", None),
                        created_at=now)
    customer.tags = _tags(data.tag_ids)
    db.session.add(customer)
    db.session.flush()
    db.session.add(OwnershipChange(customer_id=customer.id, kind="create", to_owner_id=owner.id,
                                   actor_id=getattr(actor, "id", None), at=now))
    if not quiet:
        audit(actor, "customer.create", customer, summary=customer.name,
              after={"owner": owner.display_name}, now=now)
    return customer


def update_customer(customer, data, *, actor, now=None):
    """Change a customer's record (not the owner: that is a transfer)."""
    now = now or utcnow()
    values = _clean(data, today=now.astimezone(company_zone()).date(), own_id=customer.id)
    if (existing := duplicate_of(values["phone"], own_id=customer.id)) is not None:
        raise DuplicateCustomer(existing)
    watched = ("name", "phone", "grade", "do_not_call", "do_not_sms")
    before = {key: getattr(customer, key) for key in watched}
    if values["grade"] != customer.grade:
        values["grade_is_manual"] = bool(values["grade"])
    for key, value in values.items():
        setattr(customer, key, value)
    customer.tags = _tags(data.tag_ids)
    db.session.flush()
    audit(actor, "customer.update", customer, summary=customer.name, before=before,
          after={key: getattr(customer, key) for key in watched}, now=now)
    return customer


def _tags(tag_ids):
    ids = {int(t) for t in tag_ids or () if t}
    if not ids:
        return []
    tags = db.session.scalars(select(Tag).where(Tag.id.in_(ids))).all()
    if len(tags) != len(ids):
        raise InvalidInput(_("Unknown tag."), field="tag_ids")
    return list(tags)


def record_contact(customer, *, kind, content, outcome="", next_follow_up=None, actor,
                   now=None):
    """Write a contact log (跟进记录) and move the customer's last contact time."""
    now = now or utcnow()
    if kind not in CONTACT_KINDS:
        raise InvalidInput(_("Choose how you contacted the customer."), field="kind")
    content = (content or "").strip()
    if not content:
        raise InvalidInput(_("Write what was said or done."), field="content")
    today = now.astimezone(company_zone()).date()
    if next_follow_up and next_follow_up < today:
        raise InvalidInput(_("The next follow-up cannot be in the past."),
                           field="next_follow_up")
    if customer.status == "pool":
        raise Conflict(_("Claim this customer from the public pool before following up."))
    log = ContactLog(customer_id=customer.id, kind=kind, content=content,
                     outcome=(outcome or "").strip()[:200], next_follow_up=next_follow_up,
                     actor_id=actor.id, at=now)
    db.session.add(log)
    if customer.last_contact_at is None or customer.last_contact_at < now:
        customer.last_contact_at = now
    db.session.flush()
    return log


def _check_may_own(actor, owner):
    """A department head hands customers only to marketers of their department."""
    if actor is None or actor.has_role("admin", "manager"):
        return
    if actor.has_role("dept_head") and owner.department_id in department_subtree_ids(
            actor.department_id):
        return
    if actor.id == owner.id:
        return
    raise PermissionDenied(_("You may hand customers only to marketers of your department."),
                           field="owner_id")


def _change_owner(customer, kind, to_owner, *, actor, reason, now):
    change = OwnershipChange(customer_id=customer.id, kind=kind,
                             from_owner_id=customer.owner_id,
                             to_owner_id=to_owner.id if to_owner else None,
                             reason=reason, actor_id=getattr(actor, "id", None), at=now)
    before = customer.owner.display_name if customer.owner else _("Public pool")
    if to_owner is None:
        customer.owner, customer.status, customer.pooled_at = None, "pool", now
    else:
        customer.owner, customer.status = to_owner, "active"
        customer.department_id = to_owner.department_id
    db.session.add(change)
    audit(actor, f"customer.{kind}", customer, summary=reason or customer.name,
          before={"owner": before},
          after={"owner": to_owner.display_name if to_owner else _("Public pool")}, now=now)
    return change


def _lock(customer_ids):
    """Load customers for an ownership change, rows locked (PostgreSQL)."""
    return db.session.scalars(select(Customer).where(Customer.id.in_(customer_ids))
                              .order_by(Customer.id).with_for_update(of=Customer)).all()


def transfer_customers(customer_ids, to_owner, *, actor, reason, now=None):
    """Hand customers to another marketer (离职交接 and the like). Returns how many moved.

    Managers and admins move any customer; a department head only customers of their
    department, to a marketer of their department.
    """
    now = now or utcnow()
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput(_("Say why the customers are transferred."), field="reason")
    if not customer_ids:
        raise InvalidInput(_("Choose at least one customer."))
    if to_owner is None or not to_owner.is_active or not to_owner.has_role("marketer"):
        raise InvalidInput(_("Choose an active marketer to receive the customers."),
                           field="to_owner_id")
    if not actor.has_role("admin", "manager", "dept_head"):
        raise PermissionDenied(_("Only managers and department heads transfer customers."))
    _check_may_own(actor, to_owner)
    visible = set(db.session.scalars(visible_customers(actor).with_only_columns(Customer.id)
                                     .where(Customer.id.in_(customer_ids))))
    if visible != set(customer_ids):
        raise NotFound(_("Some of the chosen customers are not yours to transfer."))
    moved = 0
    for customer in _lock(customer_ids):
        if customer.owner_id == to_owner.id:
            continue
        _change_owner(customer, "transfer", to_owner, actor=actor, reason=reason, now=now)
        moved += 1
    db.session.flush()
    return moved


def transfer_book(from_owner, to_owner, *, actor, reason, now=None):
    """Hand every customer of `from_owner` (a leaving marketer) to `to_owner` in one action."""
    ids = list(db.session.scalars(select(Customer.id).where(
        Customer.owner_id == from_owner.id, Customer.status != "pool")))
    if not ids:
        raise InvalidInput(_("%(name)s owns no customers.", name=from_owner.display_name))
    return transfer_customers(ids, to_owner, actor=actor, reason=reason, now=now)


def release_to_pool(customer_ids, *, actor, reason, now=None):
    """Managers and department heads put customers into the public pool (公海)."""
    now = now or utcnow()
    if not actor.has_role("admin", "manager", "dept_head"):
        raise PermissionDenied(_("Only managers and department heads release customers."))
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput(_("Say why the customers go to the public pool."), field="reason")
    visible = set(db.session.scalars(visible_customers(actor).with_only_columns(Customer.id)
                                     .where(Customer.id.in_(customer_ids))))
    if not customer_ids or visible != set(customer_ids):
        raise NotFound(_("Some of the chosen customers are not yours to release."))
    released = 0
    for customer in _lock(customer_ids):
        if customer.status == "pool":
            continue
        _change_owner(customer, "release", None, actor=actor, reason=reason, now=now)
        released += 1
    db.session.flush()
    return released


def claim_from_pool(customer, *, actor, now=None):
    """A marketer takes a customer from the pool, within the daily claim limit and the cap on
    owned customers."""
    now = now or utcnow()
    if not actor.has_role("marketer"):
        raise PermissionDenied(_("Only marketers claim customers from the public pool."))
    customer = _lock([customer.id])[0]
    if customer.status != "pool":
        raise Conflict(_("%(name)s is no longer in the public pool.", name=customer.name))
    limit = get_setting("customers.claims_per_day")
    if claims_today(actor, now) >= limit:
        raise Conflict(_("You have claimed %(n)s customers today, the daily limit.", n=limit))
    cap = get_setting("customers.max_owned")
    if owned_count(actor) >= cap:
        raise Conflict(_("You already own %(n)s customers, the most one marketer may own.",
                         n=cap))
    return _change_owner(customer, "claim", actor, actor=actor, reason="", now=now)


def assign_from_pool(customer_ids, to_owner, *, actor, reason="", now=None):
    """A manager (or department head, within the department) gives pool customers to a
    marketer."""
    now = now or utcnow()
    if not actor.has_role("admin", "manager", "dept_head"):
        raise PermissionDenied(_("Only managers and department heads assign from the pool."))
    if to_owner is None or not to_owner.is_active or not to_owner.has_role("marketer"):
        raise InvalidInput(_("Choose an active marketer to receive the customers."),
                           field="to_owner_id")
    _check_may_own(actor, to_owner)
    customers = _lock(customer_ids)
    if not customers or any(c.status != "pool" for c in customers):
        raise Conflict(_("Only customers in the public pool can be assigned."))
    for customer in customers:
        _change_owner(customer, "assign", to_owner, actor=actor, reason=reason, now=now)
    db.session.flush()
    return len(customers)


def reclaim_stale_customers(now=None, *, days=None):
    """The nightly pool reclaim: owned customers with no contact in `days` days (a setting)
    go to the public pool. Returns how many moved. Idempotent: a second run moves none."""
    now = now or utcnow()
    days = days or get_setting("customers.pool_days")
    cutoff = now - timedelta(days=days)
    stale = select(Customer.id).where(
        Customer.status == "active", Customer.owner_id.is_not(None),
        func.coalesce(Customer.last_contact_at, Customer.created_at) < cutoff)
    ids = list(db.session.scalars(stale))
    for customer in _lock(ids) if ids else []:
        _change_owner(customer, "reclaim", None, actor=None,
                      reason=_("No follow-up in %(n)s days", n=days), now=now)
    db.session.flush()
    return len(ids)


LIST_MODELS = {"channel": Channel, "tag": Tag}


def add_list_item(kind, name, *, actor, now=None):
    """Add a source channel or a tag (names are unique)."""
    model = LIST_MODELS.get(kind)
    if model is None:
        raise InvalidInput(_("Unknown list."))
    name = (name or "").strip()
    if not name or len(name) > 30:
        raise InvalidInput(_("Enter a name of at most 30 characters."), field="name")
    if db.session.scalar(select(model).where(model.name == name)) is not None:
        raise Conflict(_("%(name)s is already on the list.", name=name), field="name")
    item = model(name=name)
    db.session.add(item)
    db.session.flush()
    audit(actor, f"customer.{kind}_add", item, summary=name, now=now)
    return item


def toggle_list_item(kind, item_id, *, actor, now=None):
    """Stop offering a channel or tag (customers keep it), or offer it again."""
    model = LIST_MODELS.get(kind)
    item = db.session.get(model, item_id) if model else None
    if item is None:
        raise NotFound(_("Not found, or not yours to see."))
    item.is_active = not item.is_active
    db.session.flush()
    audit(actor, f"customer.{kind}_toggle", item, summary=item.name, now=now)
    return item


def ensure_default_channels():
    """Create the standard source channels that do not exist yet; return how many."""
    existing = set(db.session.scalars(select(Channel.name)))
    missing = [name for name in DEFAULT_CHANNELS if name not in existing]
    for sort, name in enumerate(DEFAULT_CHANNELS):
        if name in missing:
            db.session.add(Channel(name=name, sort=sort))
    db.session.flush()
    return len(missing)


def active_marketers(actor=None):
    """Active marketers, limited to a department head's department when `actor` is one."""
    query = select(User).where(User.is_active, User.role_rows.any(role="marketer"))
    if actor is not None and not actor.has_role("admin", "manager") and \
            actor.has_role("dept_head"):
        query = query.where(User.department_id.in_(department_subtree_ids(actor.department_id)))
    return db.session.scalars(query.order_by(User.display_name)).all()


register_actions({
    "customer.create": _l("Registered customer"),
    "customer.update": _l("Changed customer"),
    "customer.show_phone": _l("Viewed full phone number"),
    "customer.transfer": _l("Transferred customer"),
    "customer.release": _l("Released to the pool"),
    "customer.claim": _l("Claimed from the pool"),
    "customer.assign": _l("Assigned from the pool"),
    "customer.reclaim": _l("Reclaimed to the pool"),
    "customer.export": _l("Exported customers"),
    "customer.import": _l("Imported customers"),
    "customer.channel_add": _l("Added source channel"),
    "customer.channel_toggle": _l("Switched source channel"),
    "customer.tag_add": _l("Added tag"),
    "customer.tag_toggle": _l("Switched tag"),
})
register_targets({"customers": _l("Customer"), "channels": _l("Source channel"),
                  "tags": _l("Tag")})
register_fields({"owner": _l("Owner"), "name": _l("Name"), "phone": _l("Mobile"),
                 "grade": _l("Grade"), "do_not_call": _l("Do not call"),
                 "do_not_sms": _l("Do not SMS")})

define_area("customers", _l("Customers and public pool"))
define("customers.claims_per_day", "int", 10, _l("Claims per marketer per day"),
       _l("How many customers a marketer may claim from the public pool each day."),
       min=0, max=1000)
define("customers.max_owned", "int", 2000, _l("Most customers one marketer may own"),
       _l("A marketer at this number cannot claim more from the pool."), min=1, max=100000)
define("customers.pool_days", "int", 30, _l("Days without follow-up before the pool"),
       _l("Customers nobody followed up for this many days go to the public pool at night."),
       min=1, max=3650)
define("customers.import_max_rows", "int", 20000, _l("Most rows in one import"),
       _l("Larger spreadsheets must be split."), min=1, max=200000)
define("customers.export_roles", "roles", ["admin", "manager"],
       _l("Roles that may export customers"),
       _l("Every export is recorded in the audit log."))


# --- Timeline ----------------------------------------------------------------------------------

@register_provider
def _contact_items(customer, limit):
    logs = db.session.scalars(select(ContactLog).where(ContactLog.customer_id == customer.id)
                              .order_by(ContactLog.at.desc()).limit(limit))
    items = []
    for log in logs:
        detail = log.content
        if log.outcome:
            detail += f"（{log.outcome}）"
        if log.next_follow_up:
            detail += " · " + _("next follow-up %(date)s", date=log.next_follow_up.isoformat())
        items.append(TimelineItem(at=log.at, kind=f"contact.{log.kind}",
                                  title=str(CONTACT_KINDS[log.kind]), detail=detail,
                                  actor=log.actor.display_name))
    return items


@register_provider
def _ownership_items(customer, limit):
    changes = db.session.scalars(select(OwnershipChange).where(
        OwnershipChange.customer_id == customer.id).order_by(OwnershipChange.at.desc())
        .limit(limit))
    items = []
    for change in changes:
        before = change.from_owner.display_name if change.from_owner else _("Public pool")
        after = change.to_owner.display_name if change.to_owner else _("Public pool")
        detail = after if change.kind == "create" else f"{before} → {after}"
        if change.reason:
            detail += f"（{change.reason}）"
        items.append(TimelineItem(at=change.at, kind=f"ownership.{change.kind}",
                                  title=str(OWNERSHIP_KINDS[change.kind]), detail=detail,
                                  actor=change.actor.display_name if change.actor
                                  else _("System")))
    return items

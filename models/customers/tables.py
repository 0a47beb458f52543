"""Customer archive tables: Customer, Channel and Tag (managed lists), ContactLog (跟进记录),
OwnershipChange (every transfer, release to and claim from the public pool), NamePart (what the
search finds a name by its middle with), CustomerRfm (the nightly RFM scores of a buying
customer)."""
from datetime import date, datetime

from flask_babel import gettext as _, lazy_gettext as _l
from sqlalchemy import (BigInteger, Boolean, CheckConstraint, Column, Date, ForeignKey, Index,
                        Integer, String, Table, Text, true)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from extensions import db
from models.base import UTCDateTime, utcnow
from models.clock import local_day

GENDERS = {"": _l("Unknown"), "F": _l("Female"), "M": _l("Male")}
GRADES = ("A", "B", "C", "D")
STATUSES = {"active": _l("Followed up"), "pool": _l("Public pool"), "dormant": _l("Dormant")}
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
        Index("ix_customers_intent_owner", "intent", "owner_id"),
        # The customer list filtered by grade, newest first (reads.find_customers, the
        # "recent" sort): page 500 walks 15,000 entries of one grade, not every customer's.
        Index("ix_customers_grade_created", "grade", "created_at", "id"),
        CheckConstraint("intent IN ('', 'none', 'some', 'strong', 'deal')",
                        name="known_intent"),
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
    #: Anything else worth knowing (the 备注 column of an old spreadsheet).
    notes: Mapped[str] = mapped_column(Text, default="")
    #: A family member to tell about large orders (safeguards for older customers).
    family_name: Mapped[str] = mapped_column(String(40), default="")
    family_relation: Mapped[str] = mapped_column(String(20), default="")
    family_phone: Mapped[str] = mapped_column(String(20), default="")
    #: Which birthday the care list follows: "solar" (birthday holds the date), "lunar"
    #: (lunar_month/day/leap) or "". A customer may have both dates (an old spreadsheet gave
    #: both): the other one is kept, and shown.
    birthday_kind: Mapped[str] = mapped_column(String(5), default="")
    birthday: Mapped[date | None] = mapped_column(Date)
    lunar_month: Mapped[int | None] = mapped_column(Integer)
    lunar_day: Mapped[int | None] = mapped_column(Integer)
    lunar_leap: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Year of birth, when known (from the solar birthday, or given with a lunar one).
    birth_year: Mapped[int | None] = mapped_column(Integer)
    #: The year of birth was counted back from an age ("75岁" in an import): shown as 约.
    birth_year_estimated: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Month of the solar birthday (1–12), for the birthday-month filter.
    birth_month: Mapped[int | None] = mapped_column(Integer, index=True)
    anniversary: Mapped[date | None] = mapped_column(Date)
    do_not_call: Mapped[bool] = mapped_column(Boolean, default=False)
    do_not_sms: Mapped[bool] = mapped_column(Boolean, default=False)
    #: How messages address the customer after the surname (阿姨, 叔叔, 老师: 张阿姨); empty:
    #: from gender and age (models.messages.address_form_of).
    address_form: Mapped[str] = mapped_column(String(10), default="", server_default="")
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"), index=True)
    status: Mapped[str] = mapped_column(String(10), default="active", index=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    #: 最近跟进: the latest time the company was in touch with the customer — a contact log
    #: (not an unanswered call), an arrival at an event, an order. Maintained by each of those
    #: operations (customers.touch_last_contact); last_contact_of() computes it from the rows.
    last_contact_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    #: The latest purchase intent recorded (models/customers/intent.py INTENTS), "" for none.
    intent: Mapped[str] = mapped_column(String(10), default="", server_default="")
    intent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: When the current owner got the customer (registered, transferred, claimed, assigned):
    #: the nightly reclaim counts idle days from the later of this and the last contact.
    owned_since: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: When the customer last went to the public pool (for the pool list).
    pooled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    owner = relationship("User", foreign_keys=[owner_id], lazy="joined")
    department = relationship("Department", lazy="joined")
    channel = relationship("Channel", lazy="joined")
    referrer = relationship("Customer", remote_side=[id], lazy="select")
    #: Loaded when read (most screens that load a customer never show the tags).
    tags = relationship("Tag", secondary=customer_tags, lazy="select", order_by="Tag.name")
    #: Written with the name (customers.name_parts), read only by the search.
    name_parts = relationship("NamePart", lazy="select", cascade="all, delete-orphan")
    created_by = relationship("User", foreign_keys=[created_by_id])

    def __repr__(self):
        return f"<Customer {self.id} {self.name}>"

    @property
    def phone_national(self):
        return self.phone[3:] if self.phone.startswith("+86") else self.phone

    @property
    def age(self):
        """Age in whole years today (company time zone), if the birth year is known (counted
        from a year that may be estimated: birth_year_estimated)."""
        if not self.birth_year:
            return None
        today = local_day(utcnow())
        if self.birthday:
            return today.year - self.birthday.year - (
                (today.month, today.day) < (self.birthday.month, self.birthday.day))
        return today.year - self.birth_year

    @property
    def birthday_text(self):
        """1950-03-08, or 农历 三月初八 (闰) with the year when known (约 1951 when estimated);
        with both dates, the one the care list follows first and the other in brackets."""
        solar = self.birthday.isoformat() if self.birthday else ""
        lunar = ""
        if self.lunar_month and self.lunar_day:
            lunar = _("Lunar %(leap)s%(month)s/%(day)s", leap=_("leap ") if self.lunar_leap
                      else "", month=self.lunar_month, day=self.lunar_day)
        if self.birthday_kind == "solar" and solar:
            return f"{solar}（{lunar}）" if lunar else solar
        if self.birthday_kind == "lunar" and lunar:
            if solar:
                return f"{lunar}（{_('Solar')} {solar}）"
            if self.birth_year:
                year = _("about %(n)s", n=self.birth_year) if self.birth_year_estimated \
                    else self.birth_year
                return f"{year} {lunar}"
            return lunar
        return ""


class NamePart(db.Model):
    """A tail of a customer's name after its first character (秀兰 and 兰 of 张秀兰), so that
    the search box finds a name by its middle as a prefix of one of them: an index range on
    SQLite and PostgreSQL alike. A trigram index would not do: a Chinese name is two to four
    characters, and a two-character part has no trigram to look up."""
    __tablename__ = "customer_name_parts"

    #: First in the primary key: a search is a range on it.
    part: Mapped[str] = mapped_column(String(40), primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"),
                                             primary_key=True, index=True)


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
    #: False for an unanswered call (a task's 未接通): written down, not a contact (最近跟进).
    reached: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
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


#: The RFM scores, each a quintile 1–5 (5 = best).
RFM_SCORES = (1, 2, 3, 4, 5)


class CustomerRfm(db.Model):
    """A buying customer's RFM scores over the company (recency, frequency, monetary — each a
    quintile 1–5, 5 = best), rewritten by the nightly `rfm` job (models.orders.figures.score_rfm)
    with what they were scored on. A customer who never bought has no row (未购买). Stored:
    ranking 200,000 customers on every page view would be too slow."""
    __tablename__ = "customer_rfm"
    __table_args__ = (
        CheckConstraint("recency_score BETWEEN 1 AND 5 AND frequency_score BETWEEN 1 AND 5 "
                        "AND monetary_score BETWEEN 1 AND 5", name="scores_one_to_five"),
    )

    customer_id: Mapped[int] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True)
    recency_score: Mapped[int] = mapped_column(Integer)
    frequency_score: Mapped[int] = mapped_column(Integer)
    monetary_score: Mapped[int] = mapped_column(Integer)
    #: What the scores were ranked by: the last binding order, the number of binding orders,
    #: and their value after returns (fen).
    last_purchase_at: Mapped[datetime] = mapped_column(UTCDateTime)
    orders: Mapped[int] = mapped_column(Integer)
    sales_fen: Mapped[int] = mapped_column(BigInteger)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime)

    @property
    def label(self):
        """"R5 F3 M4"."""
        return f"R{self.recency_score} F{self.frequency_score} M{self.monetary_score}"

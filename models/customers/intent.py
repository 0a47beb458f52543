"""Purchase intent (购买意向) and experience visits (体验记录): what a marketer learns about a
customer's readiness to buy (seed 003: 成交时机把握) and what they tried (客户体验).

Every intent recorded is a row (with a follow-up, at the event, on the customer's page); the
customer's latest is kept on the customer (customers.intent, indexed with the owner), so the
"意向强烈" list is an index range, not a search of the history.
"""
from datetime import date, datetime, timedelta

from flask_babel import gettext as _, lazy_gettext as _l
from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, String, Text, func, select
from sqlalchemy.orm import Mapped, mapped_column, relationship

from extensions import db
from models.audit import audit, register_actions
from models.base import Conflict, InvalidInput, UTCDateTime, utcnow
from models.clock import local_day
from models.customers.reads import visible_customers
from models.customers.tables import Customer
from models.timeline import TimelineItem, register_provider

#: 无 / 一般 / 强烈 / 已成交, in that order.
INTENTS = {"none": _l("Intent: none"), "some": _l("Intent: some"),
           "strong": _l("Intent: strong"), "deal": _l("Intent: deal made")}
#: Where an intent was recorded.
INTENT_SOURCES = {"contact": _l("Follow-up"), "event": _l("At the event"),
                  "customer": _l("Customer page")}
MAX_EXPERIENCE_DAYS_BACK = 366


class PurchaseIntent(db.Model):
    """One reading of a customer's purchase intent: which, where, by whom."""
    __tablename__ = "purchase_intents"
    __table_args__ = (
        CheckConstraint("intent IN ('none', 'some', 'strong', 'deal')", name="known_intent"),
        CheckConstraint("source IN ('contact', 'event', 'customer')", name="known_source"),
        Index("ix_purchase_intents_customer_at", "customer_id", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    intent: Mapped[str] = mapped_column(String(10))
    source: Mapped[str] = mapped_column(String(10))
    #: The contact log it was recorded with (a task done, a follow-up written), if any.
    contact_log_id: Mapped[int | None] = mapped_column(ForeignKey("contact_logs.id"))
    #: The event it was recorded at, if any.
    event_id: Mapped[int | None] = mapped_column(ForeignKey("events.id"))
    note: Mapped[str] = mapped_column(String(200), default="")
    actor_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    actor = relationship("User", lazy="joined")

    @property
    def label(self):
        return INTENTS.get(self.intent, self.intent)


class ExperienceVisit(db.Model):
    """A product a customer tried (体验记录): what, how it went, on which day."""
    __tablename__ = "experience_visits"
    __table_args__ = (Index("ix_experience_visits_customer_day", "customer_id", "day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    #: The product or device tried, as the marketer names it (理疗仪, 足浴盆...).
    product: Mapped[str] = mapped_column(String(60))
    #: How it went: what the customer felt and said.
    how: Mapped[str] = mapped_column(Text, default="")
    day: Mapped[date] = mapped_column(Date)
    actor_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    actor = relationship("User", lazy="joined")


def check_intent(intent):
    """The intent key, or InvalidInput naming the four allowed."""
    intent = (intent or "").strip()
    if intent not in INTENTS:
        raise InvalidInput(_("Choose the purchase intent: %(list)s.",
                             list=" / ".join(str(label) for label in INTENTS.values())),
                           field="intent")
    return intent


def _owned(customer):
    """Follow-up is for a customer someone owns: one in the public pool is claimed first."""
    if customer.status == "pool":
        raise Conflict(_("Claim this customer from the public pool before following up."))


def record_intent(customer, intent, *, source, actor, now=None, contact_log=None, event=None,
                  note=""):
    """Record a customer's purchase intent and make it their latest."""
    now = now or utcnow()
    intent = check_intent(intent)
    if source not in INTENT_SOURCES:
        raise InvalidInput(_("Unknown source."), field="source")
    if source == "customer":  # heard at an event, a guest from the pool may still be keen
        _owned(customer)
    row = PurchaseIntent(customer_id=customer.id, intent=intent, source=source,
                         contact_log_id=contact_log.id if contact_log else None,
                         event_id=event.id if event else None,
                         note=(note or "").strip()[:200], actor_id=actor.id, at=now)
    db.session.add(row)
    if customer.intent_at is None or customer.intent_at <= now:
        customer.intent, customer.intent_at = intent, now
    db.session.flush()
    audit(actor, "customer.intent", customer, summary=f"{customer.name} {row.label}", now=now)
    return row


def record_experience(customer, *, product, how, day, actor, now=None):
    """Record an experience visit (体验记录)."""
    now = now or utcnow()
    _owned(customer)
    product, how = (product or "").strip(), (how or "").strip()
    if not product:
        raise InvalidInput(_("Name the product tried."), field="product")
    if len(product) > 60:
        raise InvalidInput(_("The product name is too long (60 characters at most)."),
                           field="product")
    today = local_day(now)
    day = day or today
    if day > today or day < today - timedelta(days=MAX_EXPERIENCE_DAYS_BACK):
        raise InvalidInput(_("The day of the visit must be within the last year."), field="day")
    visit = ExperienceVisit(customer_id=customer.id, product=product, how=how[:2000], day=day,
                            actor_id=actor.id, at=now)
    db.session.add(visit)
    db.session.flush()
    audit(actor, "customer.experience", customer, summary=f"{customer.name} {product}", now=now)
    return visit


def intents_of(customer, limit=20):
    return db.session.scalars(select(PurchaseIntent).where(
        PurchaseIntent.customer_id == customer.id).order_by(
        PurchaseIntent.at.desc(), PurchaseIntent.id.desc()).limit(limit)).all()


def experiences_of(customer, limit=50):
    return db.session.scalars(select(ExperienceVisit).where(
        ExperienceVisit.customer_id == customer.id).order_by(
        ExperienceVisit.day.desc(), ExperienceVisit.id.desc()).limit(limit)).all()


def strong_intent_customers(user, *, owner_id=None, limit=500):
    """The "意向强烈" list: customers the user may see whose latest intent is strong, by owner
    (a marketer sees their own, a department head the department's), latest first."""
    query = visible_customers(user).where(Customer.intent == "strong",
                                          Customer.status == "active")
    if owner_id is not None:
        query = query.where(Customer.owner_id == owner_id)
    return db.session.scalars(query.order_by(Customer.intent_at.desc(), Customer.id.desc())
                              .limit(limit)).all()


def last_contact_of(customer_id):
    """最近跟进 computed from the rows, the definition customers.last_contact_at maintains: the
    latest of the customer's contact logs (an unanswered call is not a contact), arrivals at
    events and orders (not an old debt imported as an opening balance). Reads the tables of the
    check-in and order areas by name: they stand above the customers' and are not imported."""
    tables = db.metadata.tables
    logs, check_ins, orders = tables["contact_logs"], tables["check_ins"], tables["orders"]
    found = [
        db.session.scalar(select(func.max(logs.c.at)).where(
            logs.c.customer_id == customer_id, logs.c.reached.is_(True))),
        db.session.scalar(select(func.max(check_ins.c.at)).where(
            check_ins.c.customer_id == customer_id)),
        db.session.scalar(select(func.max(orders.c.created_at)).where(
            orders.c.customer_id == customer_id, orders.c.status != "opening"))]
    found = [at for at in found if at is not None]
    return max(found) if found else None


@register_provider
def _intent_items(customer, limit):
    return [TimelineItem(at=row.at, kind="intent", title=str(_l("Purchase intent")),
                         detail=f"{row.label}" + (f" · {row.note}" if row.note else ""),
                         actor=row.actor.display_name)
            for row in intents_of(customer, limit)]


@register_provider
def _experience_items(customer, limit):
    return [TimelineItem(at=row.at, kind="experience", title=str(_l("Experience visit")),
                         detail=f"{row.day.isoformat()} · {row.product}"
                         + (f" · {row.how}" if row.how else ""),
                         actor=row.actor.display_name)
            for row in experiences_of(customer, limit)]


register_actions({"customer.intent": _l("Recorded purchase intent"),
                  "customer.experience": _l("Recorded an experience visit")})

"""Referral rewards (转介绍): when a customer someone referred first attends or first buys, the
referrer is rewarded once — bonus points (the points ledger) or a gift product (the gift
ledger; owed, with a task for the referrer's marketer, while it is out of stock).

A workflow over the ledgers of points, gifts and tasks (DESIGN §3 Layers, 4): the door and
order taking call reward_referral in the transaction of the check-in or the order that earned
it. The settings are the points area's (points.referral_*).
"""
from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import CheckConstraint, ForeignKey, Integer, String, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column, relationship

from extensions import db
from models import gifts, inventory as inv, points, tasks
from models.audit import audit
from models.base import Conflict, InvalidInput, PermissionDenied, UTCDateTime, lock_row, utcnow
from models.checkin import CheckIn
from models.clock import local_day
from models.customers import Customer
from models.events import Event
from models.orders import Order
from models.settings import get_setting
from models.timeline import TimelineItem, register_provider


class ReferralReward(db.Model):
    """The reward a referrer earned for one referred customer: points or a gift product, once
    per referred customer (the unique key). A gift out of stock is recorded as owed and given
    later (`give_referral_gift`); stock never goes below zero for it."""
    __tablename__ = "referral_rewards"
    __table_args__ = (
        CheckConstraint("kind IN ('points', 'gift')", name="known_kind"),
        CheckConstraint("status IN ('given', 'owed')", name="known_status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    referred_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), unique=True)
    referrer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    #: "attend" or "buy": what earned it.
    trigger: Mapped[str] = mapped_column(String(10))
    kind: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(10), default="given")
    points: Mapped[int] = mapped_column(Integer, default=0)
    points_entry_id: Mapped[int | None] = mapped_column(ForeignKey("points_entries.id"))
    product_id: Mapped[int | None] = mapped_column(ForeignKey("products.id"))
    quantity: Mapped[int] = mapped_column(Integer, default=0)
    gift_issue_id: Mapped[int | None] = mapped_column(ForeignKey("gift_issues.id"))
    event_id: Mapped[int | None] = mapped_column(ForeignKey("events.id"))
    warehouse_id: Mapped[int | None] = mapped_column(ForeignKey("warehouses.id"))
    note: Mapped[str] = mapped_column(String(200), default="")
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    given_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    referred = relationship("Customer", foreign_keys=[referred_id], lazy="joined")
    product = relationship("Product", lazy="joined")


def referral_gift():
    """(product, quantity) the settings give for a referral, or (None, quantity) when the gift
    product is not set (or no longer an active gift)."""
    product = inv.product_by_code(get_setting("points.referral_gift_sku"))
    quantity = get_setting("points.referral_gift_quantity")
    return (product if product is not None and product.is_gift else None), quantity


def _in_date_stock(product, warehouse, today):
    """Units of a product in date on a warehouse's free shelf (what may go to a customer)."""
    rows = inv.available_batches(product, inv.location_of(warehouse), reason="gift_issue",
                                 today=today)
    return sum(max(row.StockQuant.quantity, 0) for row in rows)


def reward_referral(customer, *, trigger, actor=None, event=None, warehouse=None, now=None):
    """When a referred customer first attends or first buys (the setting says which), their
    referrer gets the reward, once per referred customer: bonus points, or a gift product
    issued through the gift ledger (a gift-issue stock move, first expiry first, its cost
    charged to the referrer's marketer). A gift that is not in stock is recorded as owed, with a
    task for the referrer's marketer to give it when stock arrives — the check-in or order
    that triggered it goes through, and stock never goes below zero for it. Returns the
    ReferralReward written, or None (not the trigger, no referrer, already rewarded)."""
    if get_setting("points.referral_trigger") != trigger or not customer.referrer_id:
        return None
    referrer = db.session.get(Customer, customer.referrer_id)
    if referrer is None:
        return None
    if db.session.scalar(select(ReferralReward.id).where(
            ReferralReward.referred_id == customer.id)) or db.session.scalar(
            select(points.PointsEntry.id).where(
                points.PointsEntry.bonus_key == f"referral:{customer.id}")):
        return None  # rewarded already (entries before rewards were recorded have the key)
    now = now or utcnow()
    kind = get_setting("points.referral_reward")
    reward = ReferralReward(referred_id=customer.id, referrer_id=referrer.id, trigger=trigger,
                            kind=kind, status="given", event_id=event.id if event else None,
                            at=now)
    try:
        with db.session.begin_nested():
            db.session.add(reward)
            db.session.flush()
            if kind == "points":
                bonus = get_setting("points.referral_bonus")
                if bonus <= 0:
                    raise _NoReward
                entry = points.bonus(referrer, bonus, key=f"referral:{customer.id}",
                                     reason=_("Referred %(name)s", name=customer.name),
                                     actor=actor, now=now)
                if entry is None:  # every point went to the referrer's debt
                    reward.note = _("The points paid the referrer's points debt.")
                else:
                    reward.points, reward.points_entry_id = entry.points, entry.id
            else:
                _gift_reward(reward, referrer, customer, actor=actor, event=event,
                             warehouse=warehouse, now=now)
            db.session.flush()
    except (_NoReward, IntegrityError):  # nothing to give; or rewarded a moment ago
        return None
    return reward


class _NoReward(Exception):
    pass


def _gift_reward(reward, referrer, customer, *, actor, event, warehouse, now):
    product, quantity = referral_gift()
    warehouse = warehouse or gifts.event_warehouse(event)
    reward.product_id, reward.quantity = (product.id if product else None), quantity
    reward.warehouse_id = warehouse.id if warehouse else None
    # Goods promised to customers of a pooled warehouse are not there to give away.
    if product is not None and warehouse is not None and actor is not None and \
            _in_date_stock(product, warehouse, local_day(now)) - inv.promised(
                warehouse.id, [product.id]).get((warehouse.id, product.id), 0) >= quantity:
        issue = gifts._issue(kind="referral", customer=referrer, product=product,
                             quantity=quantity, warehouse=warehouse, actor=actor, event=event,
                             note=_("Referred %(name)s", name=customer.name), now=now)
        reward.gift_issue_id, reward.given_at = issue.id, now
        return
    reward.status = "owed"
    reward.note = (_("Out of stock: %(name)s × %(n)s is owed.", name=product.name, n=quantity)
                   if product is not None else
                   _("No referral gift is set: a manager sets it under settings."))[:200]
    if referrer.owner_id:
        tasks.write_tasks([{"kind": "referral_gift", "customer_id": referrer.id,
                            "assignee_id": referrer.owner_id,
                            "department_id": referrer.department_id, "due_date": local_day(now),
                            "source_key": f"referral:{reward.id}",
                            "title": str(_("Give the referral gift (referred %(name)s)",
                                           name=customer.name))[:120],
                            "detail": reward.note}], now=now)


def give_referral_gift(reward, *, actor, token, now=None):
    """Give an owed referral gift now that it is in stock: issued through the gift ledger as a
    referral gift, the reward marked given and its task done. Refused (nothing written) while
    stock is still short."""
    if not actor.has_role(*gifts.GIFT_ROLES):
        raise PermissionDenied(_("You may not hand out gifts."))
    reward = lock_row(reward)
    if token and (prior := gifts.GiftIssue.by_token(token)) is not None:
        return prior
    if reward.status != "owed":
        raise Conflict(_("This referral reward has already been given."))
    product = reward.product or referral_gift()[0]
    if product is None:
        raise InvalidInput(_("No referral gift is set: a manager sets it under settings."))
    warehouse = db.session.get(inv.Warehouse, reward.warehouse_id) if reward.warehouse_id \
        else gifts.event_warehouse(None)
    now = now or utcnow()
    quantity = reward.quantity or get_setting("points.referral_gift_quantity")
    left = _in_date_stock(product, warehouse, local_day(now))
    if left < quantity:
        raise Conflict(_("Only %(n)s of %(name)s in date in %(place)s: the referral gift is "
                         "still owed.", n=left, name=product.name, place=warehouse.name))
    referrer = db.session.get(Customer, reward.referrer_id)
    issue = gifts._issue(kind="referral", customer=referrer, product=product, quantity=quantity,
                         warehouse=warehouse, actor=actor, token=token,
                         event=db.session.get(Event, reward.event_id) if reward.event_id
                         else None,
                         note=_("Referred %(name)s", name=reward.referred.name), now=now)
    reward.status, reward.gift_issue_id, reward.given_at = "given", issue.id, now
    reward.product_id, reward.quantity = product.id, quantity
    db.session.execute(update(tasks.Task).where(
        tasks.Task.kind == "referral_gift", tasks.Task.source_key == f"referral:{reward.id}",
        tasks.Task.status == "open").values(status="done", done_at=now,
                                            done_on=local_day(now), done_by_id=actor.id)
        .execution_options(synchronize_session=False))
    db.session.flush()
    audit(actor, "points.referral_gift", summary=f"{referrer.name} {product.name}×{quantity}",
          now=now)
    return issue


def rewards_of(customer):
    """The referral rewards a customer earned, newest first."""
    return db.session.scalars(select(ReferralReward).where(
        ReferralReward.referrer_id == customer.id).order_by(ReferralReward.at.desc(),
                                                            ReferralReward.id.desc())).all()


def referrals_of(customer):
    """[(referred customer, attended?, bought?)] of a customer."""
    people = db.session.scalars(select(Customer).where(Customer.referrer_id == customer.id)
                                .order_by(Customer.created_at)).all()
    return [(person,
             bool(db.session.scalar(select(CheckIn.id).where(CheckIn.customer_id == person.id)
                                    .limit(1))),
             bool(db.session.scalar(select(Order.id).where(Order.customer_id == person.id,
                                                           Order.status == "open").limit(1))))
            for person in people]


@register_provider
def _referral_items(customer, limit):
    """Referral gifts that could not be given at once (a note says why). A gift given is on
    the timeline as a gift, bonus points as points."""
    return [TimelineItem(at=at, kind="points.referral_owed",
                         title=_("Referral gift owed (referred %(name)s)", name=name),
                         detail=note)
            for at, note, name in db.session.execute(
                select(ReferralReward.at, ReferralReward.note, Customer.name)
                .join(Customer, Customer.id == ReferralReward.referred_id).where(
                    ReferralReward.referrer_id == customer.id, ReferralReward.kind == "gift",
                    ReferralReward.note != "").order_by(ReferralReward.at.desc()).limit(limit))]

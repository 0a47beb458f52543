"""Membership points (积分) and referral rewards (转介绍), exact to the point.

The points ledger has an entry per change: earned (money received), bonus (attendance,
birthday, referral), adjusted (by a manager, with a reason), redeemed, expired, taken back (a
refund) and reversals. A customer's balance is the sum; each customer has an account row that
caches it (proven by `check-ledgers`) and is the row locked while a balance is checked.

Earned, bonus and positive adjusted entries are lots with an expiry date (the end of the
following calendar year by default). Spending takes the oldest lots first (FIFO); the nightly
expiry run expires only what is left of a lot, once. A refund takes back the points its money
earned; what the customer no longer has becomes a debt that later earnings pay first — a
balance is never negative.
"""
from bisect import insort
from datetime import date, datetime
from itertools import groupby
from operator import itemgetter

from flask_babel import gettext as _, lazy_gettext as _l
from sqlalchemy import (Boolean, CheckConstraint, Date, ForeignKey, Index, Integer, String,
                        bindparam, exists, func, insert, literal_column, select, text, update)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, lazyload, mapped_column, relationship

from extensions import db
from formatting import local_day
from models import inventory as inv
from models.audit import audit, register_actions, register_targets
from models.base import (Conflict, InvalidInput, PermissionDenied, TokenMixin, UTCDateTime,
                         add_once, lock_row, utcnow)
from models.settings import define, define_area, get_setting
from models.timeline import TimelineItem, register_provider

KINDS = {"earned": _l("Earned"), "bonus": _l("Bonus"), "adjusted": _l("Adjusted"),
         "redeemed": _l("Redeemed"), "expired": _l("Expired"), "clawback": _l("Taken back"),
         "reversed": _l("Reversal")}
LOT_KINDS = ("earned", "bonus", "adjusted")
MAX_POINTS = 10_000_000


class PointsAccount(db.Model):
    """A customer's points: the cached balance and debt, and the row locked while either is
    checked."""
    __tablename__ = "points_accounts"
    __table_args__ = (CheckConstraint("balance >= 0 AND debt >= 0", name="not_negative"),)

    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), primary_key=True)
    balance: Mapped[int] = mapped_column(Integer, default=0)
    #: Points taken back by refunds that the customer no longer had: paid from later earnings.
    debt: Mapped[int] = mapped_column(Integer, default=0)


class PointsEntry(TokenMixin, db.Model):
    __tablename__ = "points_entries"
    __table_args__ = (
        CheckConstraint("points <> 0", name="points_not_zero"),
        Index("ix_points_entries_customer_at", "customer_id", "at"),
        Index("ix_points_entries_expiry", "expires_on"),
        # A lot expires once: the expiry run is idempotent.
        Index("uq_points_entries_expired_lot", "lot_id", unique=True,
              sqlite_where=text("kind = 'expired'"), postgresql_where=text("kind = 'expired'")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    kind: Mapped[str] = mapped_column(String(10))
    #: Signed.
    points: Mapped[int] = mapped_column(Integer)
    #: Lots (earned, bonus, positive adjustments): the day after which what is left expires.
    expires_on: Mapped[date | None] = mapped_column(Date)
    #: An expiry entry: the lot it expires.
    lot_id: Mapped[int | None] = mapped_column(ForeignKey("points_entries.id"))
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"), index=True)
    payment_id: Mapped[int | None] = mapped_column(ForeignKey("payments.id"))
    redemption_id: Mapped[int | None] = mapped_column(ForeignKey("points_redemptions.id"))
    reverses_id: Mapped[int | None] = mapped_column(ForeignKey("points_entries.id"), unique=True)
    #: Bonuses: what earned it ("attendance:12", "referral:345", "birthday:2026-11").
    bonus_key: Mapped[str | None] = mapped_column(String(40), unique=True)
    reason: Mapped[str] = mapped_column(String(200), default="")
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    actor = relationship("User", lazy="joined")


class Redemption(TokenMixin, db.Model):
    """Products exchanged for points at the counter; a slip is printed."""
    __tablename__ = "points_redemptions"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str | None] = mapped_column(String(30), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouses.id"))
    event_id: Mapped[int | None] = mapped_column(ForeignKey("events.id"))
    marketer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    points: Mapped[int] = mapped_column(Integer)
    #: Fen: what the goods cost (units × unit cost).
    cost: Mapped[int] = mapped_column(Integer, default=0)
    actor_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    reversed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: The goods were left with the company (寄存) rather than handed over.
    in_custody: Mapped[bool] = mapped_column(Boolean, default=False)

    customer = relationship("Customer", lazy="joined")
    actor = relationship("User", foreign_keys=[actor_id], lazy="joined")


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


# --- The account -----------------------------------------------------------------------------

def lock_account(customer_id):
    """The customer's account row, locked (made at zero when missing)."""
    query = select(PointsAccount).where(PointsAccount.customer_id == customer_id) \
        .with_for_update().execution_options(populate_existing=True)
    account = db.session.scalar(query)
    if account is None:
        try:
            with db.session.begin_nested():
                account = PointsAccount(customer_id=customer_id, balance=0, debt=0)
                db.session.add(account)
        except IntegrityError:
            account = db.session.scalar(query)
    return account


def balance_of(customer_id):
    return db.session.scalar(select(PointsAccount.balance).where(
        PointsAccount.customer_id == customer_id)) or 0


def default_expiry(day):
    """The end of the following calendar year."""
    return date(day.year + 1, 12, 31)


def _write(account, *, kind, points, actor, now, expires_on=None, **links):
    entry = PointsEntry(customer_id=account.customer_id, kind=kind, points=points,
                        expires_on=expires_on, actor_id=actor.id if actor else None, at=now,
                        **links)
    db.session.add(entry)
    account.balance += points
    if account.balance < 0:
        raise Conflict(_("The customer has only %(n)s points.", n=account.balance - points),
                       field="points")
    return entry


def _credit(account, points, *, kind, actor, now, **links):
    """Add points (a lot), paying the customer's debt first."""
    paid_debt = min(account.debt, points)
    account.debt -= paid_debt
    points -= paid_debt
    if points <= 0:
        return None
    return _write(account, kind=kind, points=points, actor=actor, now=now,
                  expires_on=default_expiry(local_day(now)), **links)


# --- Earning ---------------------------------------------------------------------------------

def multiplier(product):
    """Percent of the points a product earns: its own, else its category's, else 100."""
    if product.points_multiplier is not None:
        return product.points_multiplier
    if product.category is not None and product.category.points_multiplier is not None:
        return product.category.points_multiplier
    return 100


def points_for(order, amount):
    """Points earned by `amount` fen paid on `order`: per yuan (the setting), weighted by the
    multipliers of what the order's money is for."""
    if order.total <= 0:
        return 0
    weighted = sum(line.amount * multiplier(line.product) for line in order.lines)
    return amount * get_setting("points.per_yuan") * weighted // (order.total * 100 * 100)


def earn_on_payment(order, payment, *, actor, now=None):
    """Called when money is received: the points it earns (a deposit earns on the deposit)."""
    points = points_for(order, payment.amount)
    if points <= 0:
        return None
    account = lock_account(order.customer_id)
    return _credit(account, points, kind="earned", actor=actor, now=now or utcnow(),
                   order_id=order.id, payment_id=payment.id,
                   reason=_("Paid %(number)s", number=order.number))


def take_back_on_refund(order, payment, *, actor, now=None):
    """Called when money is refunded: the points that money earned, never more than the order
    earned net; what the customer no longer has becomes a debt."""
    now = now or utcnow()
    wanted = points_for(order, -payment.amount)
    earned_net = db.session.scalar(select(func.coalesce(func.sum(PointsEntry.points), 0)).where(
        PointsEntry.order_id == order.id, PointsEntry.kind.in_(("earned", "clawback"))))
    wanted = min(wanted, max(earned_net, 0))
    if wanted <= 0:
        return None
    account = lock_account(order.customer_id)
    taken = min(wanted, account.balance)
    account.debt += wanted - taken
    entry = _write(account, kind="clawback", points=-taken, actor=actor, now=now,
                   order_id=order.id, payment_id=payment.id,
                   reason=_("Refund on %(number)s", number=order.number)) if taken else None
    if wanted > taken:
        audit(actor, "points.debt", summary=_("%(n)s points owed by customer %(id)s after a "
                                              "refund", n=wanted - taken, id=order.customer_id),
              now=now)
    return entry


def bonus(customer, points, *, key, reason, actor=None, now=None):
    """A bonus (attendance, birthday, referral), once per key."""
    if points <= 0:
        return None
    if db.session.scalar(select(PointsEntry.id).where(PointsEntry.bonus_key == key)):
        return None
    account = lock_account(customer.id)
    now = now or utcnow()
    try:
        with db.session.begin_nested():
            entry = _credit(account, points, kind="bonus", actor=actor, now=now,
                            bonus_key=key, reason=reason)
            audit(actor, "points.bonus", summary=f"{customer.name} +{points}: {reason}",
                  now=now)
            return entry
    except IntegrityError:
        return None


def birthday_bonuses(day, now=None):
    """The birthday-month bonus (a setting; 0: none): every customer whose birthday — solar, or
    lunar as it falls this year — is in the month of `day` gets it once per year. Idempotent:
    keyed by customer and month. Returns the bonuses written."""
    from calendar import monthrange

    from models.customers import Customer
    from models.tasks import care_list
    points = get_setting("points.birthday_bonus")
    if points <= 0:
        return 0
    first = day.replace(day=1)
    last = day.replace(day=monthrange(day.year, day.month)[1])
    month = f"{day.year}-{day.month:02d}"
    done = set(db.session.scalars(select(PointsEntry.bonus_key).where(
        PointsEntry.bonus_key.like(f"birthday:%:{month}"))))
    reason = _("Birthday month %(month)s", month=month)
    written = 0
    for hit in care_list(first, last, customers=select(Customer).options(lazyload("*"))):
        key = f"birthday:{hit['customer'].id}:{month}"
        if key not in done and bonus(hit["customer"], points, key=key, reason=reason,
                                     now=now) is not None:
            written += 1
    return written


def adjust(customer, points, *, reason, actor, token, now=None):
    """A manual adjustment by a manager, with a reason; never below zero."""
    if not actor.has_role("manager"):
        raise PermissionDenied(_("Only a manager adjusts points."))
    if isinstance(points, bool) or not isinstance(points, int) or points == 0 or \
            abs(points) > MAX_POINTS:
        raise InvalidInput(_("Enter the points to add or (negative) take away."),
                           field="points")
    if not (reason or "").strip():
        raise InvalidInput(_("Say why the points are adjusted."), field="reason")
    now = now or utcnow()
    account = lock_account(customer.id)
    if token and (prior := PointsEntry.by_token(token)) is not None:
        return prior
    if points < 0 and -points > account.balance:
        raise Conflict(_("The customer has only %(n)s points: an adjustment cannot go below "
                         "zero.", n=account.balance), field="points")
    entry = _write(account, kind="adjusted", points=points, actor=actor, now=now,
                   expires_on=default_expiry(local_day(now)) if points > 0 else None,
                   reason=reason.strip()[:200], token=token or None)
    audit(actor, "points.adjust", summary=f"{customer.name} {points:+d}: {reason.strip()}",
          now=now)
    return entry


# --- Redemption ------------------------------------------------------------------------------

def redeem(customer, items, *, warehouse, actor, token, event=None, in_custody=False, now=None):
    """Exchange points for redeemable products at their points price: the balance checked under
    the account's lock, a redemption-issue stock move each (FEFO, never expired) — or, when the
    customer leaves the goods with the company (`in_custody`), a deposit onto the warehouse's
    custody shelf and into the custody ledger, collected later like goods bought."""
    if not actor.has_role("manager", "warehouse", "event_staff", "marketer", "dept_head"):
        raise PermissionDenied(_("You may not redeem points."))
    items = [(product, quantity) for product, quantity in items if quantity]
    if not items:
        raise InvalidInput(_("Choose what the customer takes."), field="items")
    total = 0
    for product, quantity in items:
        inv.check_quantity(quantity)
        if not product.redeemable or not product.points_price or not product.is_active:
            raise InvalidInput(_("%(name)s cannot be redeemed with points.", name=product.name),
                               field="items")
        total += product.points_price * quantity
    now = now or utcnow()
    account = lock_account(customer.id)
    if token and (prior := Redemption.by_token(token)) is not None:
        return prior
    if total > account.balance:
        raise Conflict(_("%(name)s has %(n)s points; these come to %(total)s.",
                         name=customer.name, n=account.balance, total=total), field="items")
    redemption = Redemption(customer_id=customer.id, warehouse_id=warehouse.id,
                            event_id=event.id if event else None,
                            marketer_id=customer.owner_id, points=total, actor_id=actor.id,
                            at=now, token=token or None, in_custody=bool(in_custody))
    redemption, new = add_once(redemption)
    if not new:
        return redemption
    redemption.number = f"DH{local_day(now):%Y%m%d}-{redemption.id:05d}"
    cost = 0
    for product, quantity in items:
        if in_custody:
            from models import custody
            moves = custody.deposit_redeemed(redemption, product, quantity, warehouse=warehouse,
                                             actor=actor, event=event, now=now)
        else:
            moves = inv.issue(product=product, quantity=quantity, warehouse=warehouse,
                              reason="redemption_issue", actor=actor, customer=customer,
                              event=event, document=("points_redemptions", redemption.id),
                              note=redemption.number, now=now)
        cost += sum(move.value for move in moves)
    redemption.cost = cost
    _write(account, kind="redeemed", points=-total, actor=actor, now=now,
           redemption_id=redemption.id, reason=redemption.number)
    db.session.flush()
    audit(actor, "points.redeem", redemption, summary=f"{customer.name} −{total}", now=now)
    return redemption


def reverse_redemption(redemption, *, reason, actor, now=None):
    """A manager undoes a redemption: points back, goods back (goods left in custody come off
    the custody shelf and the customer's custody balance — refused once any was collected)."""
    if not actor.has_role("manager"):
        raise PermissionDenied(_("Only a manager reverses a redemption."))
    if not (reason or "").strip():
        raise InvalidInput(_("Say why the redemption is reversed."), field="reason")
    account = lock_account(redemption.customer_id)
    redemption = lock_row(redemption)
    if redemption.reversed_at is not None:
        raise Conflict(_("This redemption has already been reversed."))
    now = now or utcnow()
    entry = db.session.scalar(select(PointsEntry).where(
        PointsEntry.redemption_id == redemption.id, PointsEntry.kind == "redeemed"))
    if redemption.in_custody:
        from models import custody
        custody.take_back_redeemed(redemption, actor=actor, reason=reason.strip(), now=now)
    else:
        for move in db.session.scalars(select(inv.StockMove).where(
                inv.StockMove.document_type == "points_redemptions",
                inv.StockMove.document_id == redemption.id,
                inv.StockMove.reverses_id.is_(None))):
            inv.reverse(move, actor=actor, note=reason, now=now)
    _write(account, kind="reversed", points=-entry.points, actor=actor, now=now,
           expires_on=default_expiry(local_day(now)), reverses_id=entry.id,
           redemption_id=redemption.id, reason=reason.strip()[:200])
    redemption.reversed_at = now
    db.session.flush()
    audit(actor, "points.reverse", redemption, summary=f"{redemption.number}: {reason.strip()}",
          now=now)
    return redemption


# --- Lots and expiry -------------------------------------------------------------------------

#: Customers an expiry run locks, reads and writes at a time.
EXPIRY_CHUNK = 2000


def _lot_order(lot):
    return (lot[1] or date.max, lot[0])


def _open_lots(rows):
    """The spending rule, the one implementation of it: `rows` are a customer's entries as
    (id, kind, points, expires_on, lot_id), in (at, id) order. Every positive entry is a lot;
    an expiry takes from its own lot first; what else is spent comes from the lots that expire
    first (then the oldest). Returns [[lot id, expires_on, left]] of the lots with points left,
    in the order they came."""
    lots = {}  # lot id → [id, expires_on, left], in the order they came
    queue = []  # the same lots, soonest expiry first
    for entry_id, kind, points, expires_on, lot_id in rows:
        if points > 0:
            lot = [entry_id, expires_on, points]
            lots[entry_id] = lot
            if queue and _lot_order(lot) < _lot_order(queue[-1]):
                insort(queue, lot, key=_lot_order)
            else:
                queue.append(lot)
            continue
        need = -points
        if kind == "expired" and (lot := lots.get(lot_id)) is not None:
            taken = min(need, lot[2])
            lot[2] -= taken
            need -= taken
        for lot in queue:
            if not need:
                break
            taken = min(need, lot[2])
            lot[2] -= taken
            need -= taken
        while queue and not queue[0][2]:  # spent: never counted again
            del queue[0]
    return [lot for lot in lots.values() if lot[2] > 0]


def lots(customer_id):
    """[(lot entry, left)] of a customer: what is left of each lot after spending oldest first.
    Reversals of redemptions are lots of their own."""
    entries = db.session.scalars(select(PointsEntry).where(
        PointsEntry.customer_id == customer_id).order_by(PointsEntry.at, PointsEntry.id)).all()
    by_id = {entry.id: entry for entry in entries}
    return [(by_id[lot_id], left) for lot_id, _expires_on, left in _open_lots(
        (e.id, e.kind, e.points, e.expires_on, e.lot_id) for e in entries)]


def expiring(customer_id, today, within_days=800):
    """[(date, points)] that will expire within the coming days (by default: all that can,
    since points last until the end of the following year), soonest first."""
    from datetime import timedelta
    soon = {}
    for lot, left in lots(customer_id):
        if lot.expires_on and today <= lot.expires_on <= today + timedelta(days=within_days):
            soon[lot.expires_on] = soon.get(lot.expires_on, 0) + left
    return sorted(soon.items())


def run_expiry(today, *, now=None, chunk=EXPIRY_CHUNK):
    """The nightly expiry: what is left of every lot whose date has passed expires, once.
    Returns the number of expiry entries written (0 on a second run).

    Only customers holding a lot past its date that has not expired yet are visited, `chunk`
    at a time: their accounts locked first, then their entries read as plain rows and counted
    by `_open_lots` (as `lots` counts them), then the expiry entries written in one insert and
    the cached balances lowered in one update. An expiry entry is dated `now`, or later when
    the customer has entries after `now` (a catch-up run for a past day): it is counted after
    every entry it was worked out from, so `lots` replays it exactly as it was written."""
    now = now or utcnow()
    db.session.flush()
    entries, accounts = PointsEntry.__table__, PointsAccount.__table__
    expired = entries.alias("expired")
    # (No ORDER BY or DISTINCT here: the lots past their date are found by their index.)
    customers = sorted(set(db.session.scalars(
        select(entries.c.customer_id).where(
            entries.c.expires_on < today, entries.c.points > 0,
            ~exists().where(expired.c.lot_id == entries.c.id,
                            expired.c.kind == literal_column("'expired'"))))))
    reasons = {}
    written, touched = 0, set()
    for start in range(0, len(customers), chunk):
        ids = customers[start:start + chunk]
        # Lock first, then read: nothing is spent between the count and the write.
        balances = dict(db.session.execute(
            select(accounts.c.customer_id, accounts.c.balance)
            .where(accounts.c.customer_id.in_(ids)).order_by(accounts.c.customer_id)
            .with_for_update()).all())
        rows = db.session.execute(
            select(entries.c.customer_id, entries.c.id, entries.c.kind, entries.c.points,
                   entries.c.expires_on, entries.c.lot_id)
            .where(entries.c.customer_id.in_(ids))
            .order_by(entries.c.customer_id, entries.c.at, entries.c.id)).all()
        due = {}  # customer id → [(lot id, expires_on, points to expire)]
        for customer_id, group in groupby(rows, key=itemgetter(0)):
            group = [row[1:] for row in group]
            done = {row[4] for row in group if row[1] == "expired"}
            # Never below zero (the account's cached balance, which check_points proves).
            available = balances.get(customer_id, 0)
            for lot_id, expires_on, left in _open_lots(group):
                if expires_on and expires_on < today and lot_id not in done and available:
                    points = min(left, available)
                    available -= points
                    due.setdefault(customer_id, []).append((lot_id, expires_on, points))
        if not due:
            continue
        latest = dict(db.session.execute(
            select(entries.c.customer_id, func.max(entries.c.at))
            .where(entries.c.customer_id.in_(list(due)))
            .group_by(entries.c.customer_id)).all())
        expiries, debits = [], []
        for customer_id, expiring_lots in due.items():
            at = max(now, latest.get(customer_id) or now)
            for lot_id, expires_on, points in expiring_lots:
                if expires_on not in reasons:
                    reasons[expires_on] = _("Expired %(day)s", day=expires_on)
                expiries.append({"customer_id": customer_id, "kind": "expired",
                                 "points": -points, "lot_id": lot_id,
                                 "reason": reasons[expires_on], "actor_id": None, "at": at})
            debits.append({"customer": customer_id,
                           "points": sum(points for _l, _e, points in expiring_lots)})
        db.session.execute(insert(entries), expiries)
        db.session.execute(
            update(accounts).where(accounts.c.customer_id == bindparam("customer"))
            .values(balance=accounts.c.balance - bindparam("points")), debits)
        written += len(expiries)
        touched.update(due)
    # Accounts already loaded in the session: their balances were changed under them.
    for account in list(db.session.identity_map.values()):
        if isinstance(account, PointsAccount) and account.customer_id in touched:
            db.session.expire(account, ["balance"])
    if written:
        audit(None, "points.expire", summary=_("%(n)s lots expired, %(m)s customers",
                                               n=written, m=len(touched)), now=now)
    return written


# --- Referrals -------------------------------------------------------------------------------

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
    from models.customers import Customer
    referrer = db.session.get(Customer, customer.referrer_id)
    if referrer is None:
        return None
    if db.session.scalar(select(ReferralReward.id).where(
            ReferralReward.referred_id == customer.id)) or db.session.scalar(
            select(PointsEntry.id).where(PointsEntry.bonus_key == f"referral:{customer.id}")):
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
                points = get_setting("points.referral_bonus")
                if points <= 0:
                    raise _NoReward
                entry = bonus(referrer, points, key=f"referral:{customer.id}",
                              reason=_("Referred %(name)s", name=customer.name), actor=actor,
                              now=now)
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
    from models import gifts
    from models.tasks import write_tasks
    product, quantity = referral_gift()
    warehouse = warehouse or gifts.event_warehouse(event)
    reward.product_id, reward.quantity = (product.id if product else None), quantity
    reward.warehouse_id = warehouse.id if warehouse else None
    if product is not None and warehouse is not None and actor is not None and \
            _in_date_stock(product, warehouse, local_day(now)) >= quantity:
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
        write_tasks([{"kind": "referral_gift", "customer_id": referrer.id,
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
    from models import gifts
    from models.tasks import Task
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
    from models.customers import Customer
    referrer = db.session.get(Customer, reward.referrer_id)
    from models.events import Event
    issue = gifts._issue(kind="referral", customer=referrer, product=product, quantity=quantity,
                         warehouse=warehouse, actor=actor, token=token,
                         event=db.session.get(Event, reward.event_id) if reward.event_id
                         else None,
                         note=_("Referred %(name)s", name=reward.referred.name), now=now)
    reward.status, reward.gift_issue_id, reward.given_at = "given", issue.id, now
    reward.product_id, reward.quantity = product.id, quantity
    db.session.execute(update(Task).where(
        Task.kind == "referral_gift", Task.source_key == f"referral:{reward.id}",
        Task.status == "open").values(status="done", done_at=now, done_on=local_day(now),
                                      done_by_id=actor.id)
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
    from models.checkin import CheckIn
    from models.customers import Customer
    from models.orders import Order
    people = db.session.scalars(select(Customer).where(Customer.referrer_id == customer.id)
                                .order_by(Customer.created_at)).all()
    return [(person,
             bool(db.session.scalar(select(CheckIn.id).where(CheckIn.customer_id == person.id)
                                    .limit(1))),
             bool(db.session.scalar(select(Order.id).where(Order.customer_id == person.id,
                                                           Order.status == "open").limit(1))))
            for person in people]


# --- Reads and the ledger check ----------------------------------------------------------------

def history(customer_id, limit=200):
    return db.session.scalars(select(PointsEntry).where(PointsEntry.customer_id == customer_id)
                              .order_by(PointsEntry.at.desc(), PointsEntry.id.desc())
                              .limit(limit)).all()


def liability():
    """Outstanding points over all customers, and their value at the finance setting."""
    points = db.session.scalar(select(func.coalesce(func.sum(PointsAccount.balance), 0)))
    holders = db.session.scalar(select(func.count()).select_from(PointsAccount)
                                .where(PointsAccount.balance > 0))
    debt = db.session.scalar(select(func.coalesce(func.sum(PointsAccount.debt), 0)))
    return {"points": points, "holders": holders, "debt": debt,
            "value": points * get_setting("points.value_fen")}


def check_points():
    problems = []
    sums = dict(db.session.execute(select(PointsEntry.customer_id, func.sum(PointsEntry.points))
                                   .group_by(PointsEntry.customer_id)).all())
    accounts = dict(db.session.execute(select(PointsAccount.customer_id,
                                              PointsAccount.balance)).all())
    for customer_id in sorted(set(sums) | set(accounts)):
        if sums.get(customer_id, 0) != accounts.get(customer_id, 0):
            problems.append(f"points customer={customer_id}: balance "
                            f"{accounts.get(customer_id, 0)}, entries sum to "
                            f"{sums.get(customer_id, 0)}")
        if accounts.get(customer_id, 0) < 0:
            problems.append(f"points customer={customer_id}: below zero")
    return problems


define_area("points", _l("Points"))
define("points.per_yuan", "int", 1, _l("Points per ¥1 paid"), min=0, max=100)
define("points.attendance_bonus", "int", 0, _l("Bonus points for attending an event"),
       min=0, max=100000)
define("points.birthday_bonus", "int", 0, _l("Bonus points in the birthday month"),
       _l("Given once a year by the nightly run, early in the month; 0: none."), min=0,
       max=100000)
define("points.referral_bonus", "int", 100, _l("Bonus points for a referral"), min=0,
       max=100000)
define("points.referral_reward", "str", "points", _l("A referral is rewarded with"),
       _l("A gift is given once through the gift ledger (owed, with a task, while out of "
          "stock)."), choices=(("points", _l("The bonus points below")),
                               ("gift", _l("The gift product below"))))


def _check_gift_code(value, definition):
    product = inv.product_by_code(value)
    if product is None or not product.is_gift:
        raise InvalidInput(_("%(code)s is not the code of an active product flagged as a gift.",
                             code=value), field=definition.key)


define("points.referral_gift_sku", "str", "", _l("Referral gift (product code)"),
       _l("Used when referrals are rewarded with a gift."), max_length=40,
       check=_check_gift_code)
define("points.referral_gift_quantity", "int", 1, _l("Referral gift quantity"), min=1, max=100)
define("points.referral_trigger", "str", "buy", _l("A referral is rewarded when the new "
                                                    "customer first"),
       choices=(("attend", _l("Attends an event")), ("buy", _l("Buys"))))
define("points.value_fen", "int", 1, _l("Value of one point (fen), for the liability"),
       min=0, max=10000)
register_actions({"points.adjust": _l("Adjusted points"),
                  "points.bonus": _l("Bonus points"), "points.expire": _l("Points expired"),
                  "points.redeem": _l("Redeemed points"),
                  "points.reverse": _l("Reversed a redemption"),
                  "points.debt": _l("Points owed after a refund"),
                  "points.referral_gift": _l("Gave an owed referral gift")})
register_targets({"points_redemptions": _l("Redemption")})


@register_provider
def _points_items(customer, limit):
    return [TimelineItem(at=e.at, kind=f"points.{e.kind}",
                         title=_("%(kind)s %(points)+d points", kind=KINDS[e.kind],
                                 points=e.points),
                         detail=e.reason, actor=e.actor.display_name if e.actor else "")
            for e in history(customer.id, limit)]


@register_provider
def _referral_items(customer, limit):
    """Referral gifts that could not be given at once (a note says why). A gift given is on
    the timeline as a gift, bonus points as points."""
    return [TimelineItem(at=r.at, kind="points.referral_owed",
                         title=_("Referral gift owed (referred %(name)s)", name=r.referred.name),
                         detail=r.note)
            for r in db.session.scalars(select(ReferralReward).where(
                ReferralReward.referrer_id == customer.id, ReferralReward.kind == "gift",
                ReferralReward.note != "").order_by(ReferralReward.at.desc()).limit(limit))]


def _register_check():
    from models.ledgers import register_check
    register_check("points")(check_points)


_register_check()

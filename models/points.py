"""Membership points (积分), exact to the point: a ledger.

The points ledger has an entry per change: earned (money received), bonus (attendance,
birthday, referral), adjusted (by a manager, with a reason), redeemed, expired, taken back (a
refund) and reversals. A customer's balance is the sum; each customer has an account row that
caches it (proven by `check-ledgers`) and is the row locked while a balance is checked.

Earned, bonus and positive adjusted entries are lots with an expiry date (the end of the
following calendar year by default). Spending takes the oldest lots first (FIFO); the nightly
expiry run expires only what is left of a lot, once. A refund takes back the points its money
earned; what the customer no longer has becomes a debt that later earnings pay first — a
balance is never negative.

What joins points to other areas is a workflow above this ledger: the rewards of a referral
(models/referrals.py), redeeming points for goods (models/redemptions.py); money received and
refunded earns and takes back points through earn_on_payment/take_back_on_refund.
"""
from bisect import insort
from calendar import monthrange
from datetime import date, datetime, timedelta
from itertools import groupby
from operator import itemgetter

from flask_babel import gettext as _, lazy_gettext as _l
from sqlalchemy import (Boolean, CheckConstraint, Date, ForeignKey, Index, Integer, String,
                        bindparam, exists, func, insert, literal_column, select, text, update)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, lazyload, mapped_column, relationship

from extensions import db
from models import inventory as inv
from models.audit import audit, register_actions, register_targets
from models.base import (Conflict, InvalidInput, PermissionDenied, TokenMixin, UTCDateTime,
                         among, utcnow)
from models.clock import local_day
from models.customers import Customer, care_list
from models.ledgers import register_check
from models.settings import define, define_area, get_setting
from models.timeline import TimelineItem, register_provider

KINDS = {"earned": _l("Earned"), "bonus": _l("Bonus"), "adjusted": _l("Adjusted"),
         "opening": _l("Opening balance"),
         "redeemed": _l("Redeemed"), "expired": _l("Expired"), "clawback": _l("Taken back"),
         "reversed": _l("Reversal")}
LOT_KINDS = ("earned", "bonus", "adjusted", "opening")
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


def lock_accounts(customer_ids, chunk=500):
    """{customer id: account row}, locked, for many customers at once (an import): the missing
    accounts made at zero first, then the rows read and locked a chunk at a time."""
    ids = sorted(customer_ids)
    found = set()
    for start in range(0, len(ids), chunk):
        found.update(db.session.scalars(select(PointsAccount.customer_id).where(
            among(PointsAccount.customer_id, ids[start:start + chunk]))))
    missing = [cid for cid in ids if cid not in found]
    if missing:
        dialect = db.session.get_bind().dialect.name
        upsert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        for start in range(0, len(missing), chunk):
            db.session.execute(upsert(PointsAccount.__table__).on_conflict_do_nothing(
                index_elements=["customer_id"]), [
                {"customer_id": cid, "balance": 0, "debt": 0}
                for cid in missing[start:start + chunk]])
    accounts = {}
    for start in range(0, len(ids), chunk):
        accounts.update((account.customer_id, account) for account in db.session.scalars(
            select(PointsAccount).where(among(PointsAccount.customer_id,
                                             ids[start:start + chunk]))
            .order_by(PointsAccount.customer_id).with_for_update()
            .execution_options(populate_existing=True)))
    return accounts


def balance_of(customer_id):
    return db.session.scalar(select(PointsAccount.balance).where(
        PointsAccount.customer_id == customer_id)) or 0


def default_expiry(day):
    """The end of the following calendar year."""
    return date(day.year + 1, 12, 31)


def write_entry(account, *, kind, points, actor, now, expires_on=None, **links):
    """One entry on the customer's account (locked by lock_account), its cached balance moved
    with it; refused below zero."""
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
    return write_entry(account, kind=kind, points=points, actor=actor, now=now,
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
    entry = write_entry(account, kind="clawback", points=-taken, actor=actor, now=now,
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
    entry = write_entry(account, kind="adjusted", points=points, actor=actor, now=now,
                        expires_on=default_expiry(local_day(now)) if points > 0 else None,
                        reason=reason.strip()[:200], token=token or None)
    audit(actor, "points.adjust", summary=f"{customer.name} {points:+d}: {reason.strip()}",
          now=now)
    return entry


# --- Redemption ------------------------------------------------------------------------------

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
        # An expiry, or the reversal of a lot (an opening balance rolled back), takes from its
        # own lot first.
        if kind in ("expired", "reversed") and (lot := lots.get(lot_id)) is not None:
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
            .where(among(accounts.c.customer_id, ids)).order_by(accounts.c.customer_id)
            .with_for_update()).all())
        rows = db.session.execute(
            select(entries.c.customer_id, entries.c.id, entries.c.kind, entries.c.points,
                   entries.c.expires_on, entries.c.lot_id)
            .where(among(entries.c.customer_id, ids))
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
            .where(among(entries.c.customer_id, due))
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


register_check("points")(check_points)

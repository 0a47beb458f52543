"""Campaign costs per source channel and month (渠道营销费用): what the company spent on 电台讲座,
平面广告, 专卖店, 电话营销 … in a month, entered by a manager or a finance clerk.

An append-only ledger: an entry is never edited or deleted; a mistake is corrected by a reversal
(红冲) that names the entry and takes its amount back, and the right amount is entered anew. A
channel's cost for a month is the sum of its entries. The channel ROI report
(reports/channel_roi.py) reads it.
"""
from datetime import date, datetime

from flask_babel import gettext as _, lazy_gettext as _l
from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, Integer, String, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, aliased, mapped_column, relationship

from extensions import db
from models.audit import audit, register_actions
from models.base import (Conflict, InvalidInput, PermissionDenied, TokenMixin, UTCDateTime,
                         add_once, lock_row, utcnow)
from models.clock import local_day
from models.customers.tables import Channel
from models.ledgers import register_check

__all__ = ["COST_ROLES", "MAX_COST_FEN", "ChannelCost", "channel_cost_entries",
           "channel_costs", "first_of_month", "monthly_channel_costs", "record_channel_cost",
           "reverse_channel_cost"]

#: Who enters and reverses campaign costs.
COST_ROLES = ("manager", "finance")
#: The largest single entry: ¥10,000,000.
MAX_COST_FEN = 1_000_000_000


class ChannelCost(TokenMixin, db.Model):
    """One entry of the campaign-cost ledger: money spent on a source channel in a month, or
    the reversal of such an entry. Append-only."""
    __tablename__ = "channel_costs"
    __table_args__ = (
        CheckConstraint("amount_fen <> 0", name="amount_not_zero"),
        CheckConstraint("(reverses_id IS NULL) = (amount_fen > 0)", name="sign_follows_kind"),
        Index("ix_channel_costs_month_channel", "month", "channel_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id"))
    #: The first day of the month the money was spent in.
    month: Mapped[date] = mapped_column(Date)
    #: Fen, signed: an entry positive, its reversal the same amount negative.
    amount_fen: Mapped[int] = mapped_column(Integer)
    #: What the money bought (an entry) or why it is taken back (a reversal).
    note: Mapped[str] = mapped_column(String(200), default="")
    #: The entry this one reverses; an entry is reversed at most once.
    reverses_id: Mapped[int | None] = mapped_column(ForeignKey("channel_costs.id"), unique=True)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    channel = relationship("Channel", lazy="joined")
    created_by = relationship("User", lazy="joined")


def first_of_month(day):
    return day.replace(day=1)


def _require(actor):
    if actor is None or not actor.has_role(*COST_ROLES):
        raise PermissionDenied(_("Only managers and finance enter campaign costs."))


def record_channel_cost(channel_id, *, month, amount_fen, note="", actor, token, now=None):
    """Enter what was spent on a channel in a month. Idempotent on `token`."""
    _require(actor)
    now = now or utcnow()
    channel = db.session.get(Channel, channel_id) if channel_id else None
    if channel is None:
        raise InvalidInput(_("Choose the source channel."), field="channel_id")
    if month is None:
        raise InvalidInput(_("Choose the month."), field="month")
    month = first_of_month(month)
    if month > first_of_month(local_day(now)):
        raise InvalidInput(_("Enter the costs of a month once it has begun."), field="month")
    if month.year < 2000:
        raise InvalidInput(_("The month is too long ago."), field="month")
    if amount_fen is None or not 0 < amount_fen <= MAX_COST_FEN:
        raise InvalidInput(_("Enter an amount above zero, at most ¥10,000,000."),
                           field="amount")
    entry, written = add_once(ChannelCost(
        channel_id=channel.id, month=month, amount_fen=int(amount_fen),
        note=(note or "").strip()[:200], created_by_id=actor.id, created_at=now, token=token))
    if written:
        audit(actor, "channel_cost.add", channel,
              summary=f"{channel.name} {month:%Y-%m} {amount_fen}",
              after={"amount_fen": amount_fen}, now=now)
    return entry


def reverse_channel_cost(entry, *, reason, actor, now=None):
    """Take back a wrongly entered cost (红冲): an entry of the opposite amount naming it."""
    _require(actor)
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput(_("Say why the entry is reversed."), field="reason")
    entry = lock_row(entry)  # a second reversal at once waits here, then sees the first
    if entry.reverses_id is not None:
        raise Conflict(_("A reversal cannot itself be reversed."))
    if db.session.scalar(select(ChannelCost.id).where(ChannelCost.reverses_id == entry.id)):
        raise Conflict(_("This entry has already been reversed."))
    now = now or utcnow()
    reversal = ChannelCost(channel_id=entry.channel_id, month=entry.month,
                           amount_fen=-entry.amount_fen, note=reason[:200],
                           reverses_id=entry.id, created_by_id=actor.id, created_at=now)
    try:
        with db.session.begin_nested():
            db.session.add(reversal)
    except IntegrityError:  # SQLite has no row lock: the unique reverses_id says no
        raise Conflict(_("This entry has already been reversed.")) from None
    audit(actor, "channel_cost.reverse", entry.channel,
          summary=f"{entry.channel.name} {entry.month:%Y-%m} #{entry.id}: {reason[:200]}",
          before={"amount_fen": entry.amount_fen}, now=now)
    return reversal


# --- Reads -------------------------------------------------------------------------------------

def channel_costs(first_month, last_month):
    """{channel id: fen} spent in the months from `first_month` to `last_month` (inclusive),
    reversals taken off."""
    return {channel_id: int(total) for channel_id, total in db.session.execute(
        select(ChannelCost.channel_id, func.sum(ChannelCost.amount_fen))
        .where(ChannelCost.month >= first_of_month(first_month),
               ChannelCost.month <= first_of_month(last_month))
        .group_by(ChannelCost.channel_id))}


def monthly_channel_costs(first_month, last_month):
    """{(channel id, month): fen} of those months, reversals taken off."""
    return {(channel_id, month): int(total) for channel_id, month, total in db.session.execute(
        select(ChannelCost.channel_id, ChannelCost.month, func.sum(ChannelCost.amount_fen))
        .where(ChannelCost.month >= first_of_month(first_month),
               ChannelCost.month <= first_of_month(last_month))
        .group_by(ChannelCost.channel_id, ChannelCost.month))}


def channel_cost_entries(first_month, last_month):
    """[(entry, reversed by or None)] of those months, newest month first."""
    reversal = aliased(ChannelCost)
    return db.session.execute(
        select(ChannelCost, reversal.id)
        .outerjoin(reversal, reversal.reverses_id == ChannelCost.id)
        .where(ChannelCost.month >= first_of_month(first_month),
               ChannelCost.month <= first_of_month(last_month))
        .order_by(ChannelCost.month.desc(), ChannelCost.id.desc())).all()


@register_check("channel costs")
def check_channel_costs():
    """Reversals that do not take back exactly their entry (amount, channel, month), or that
    reverse a reversal."""
    original = aliased(ChannelCost)
    return [f"channel cost {row.id}: reverses {row.reverses_id} but does not mirror it"
            for row in db.session.execute(
                select(ChannelCost.id, ChannelCost.reverses_id)
                .join(original, original.id == ChannelCost.reverses_id)
                .where((ChannelCost.amount_fen != -original.amount_fen)
                       | (ChannelCost.channel_id != original.channel_id)
                       | (ChannelCost.month != original.month)
                       | original.reverses_id.is_not(None)))]


register_actions({"channel_cost.add": _l("Entered campaign cost"),
                  "channel_cost.reverse": _l("Reversed campaign cost")})

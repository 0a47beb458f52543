"""The door (DESIGN §4 item 4): one tablet flow at the event's entrance — find the guest, check
them in with what an arrival earns, register walk-ins, hand the attendance gift — robust to a
bad network.

A workflow over the ledgers of check-ins, gifts, points and referrals (DESIGN §3 Layers, 4):
the check-in itself is the checkin area's (models/checkin), the gift the gifts area's; this
module joins them in one transaction per tap.

The tablet caches the event's guest list (roster(), masked phones only) and queues its check-ins
and gifts, each with its one-time token; the queue is replayed through replay_door_write(). A
queued write the server refuses (the guest came in on another tablet, the event closed, a token
reused for something else, another event's card) writes nothing but a DoorConflict, which every
tablet and the event page list for staff.
"""
import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache

from flask_babel import gettext as _, lazy_gettext as _l
from sqlalchemy import ForeignKey, String, bindparam, exists, literal, or_, select, union_all
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, joinedload, load_only, mapped_column, relationship
from sqlalchemy.orm.attributes import set_committed_value

from extensions import db
from formatting import local_dt, masked_phone
from models import checkin, customers as c, gifts, points, referrals, seating
from models.accounts import User
from models.base import (Conflict, InvalidInput, NotFound, OperationError, TokenMixin,
                         UTCDateTime, add_once, undone_if_it_fails, utcnow)
from models.checkin import (DOOR_ROLES, AlreadyCheckedIn, CheckIn, DoorClosed, _check_door_open,
                            _status_label, check_in_of, is_door_open)
from models.events import (INVITATION_STATUSES, Event, EventTable, Invitation, InvitationChange,
                           card_loading, find_invitation_by_token)
from models.gifts import GiftRule, door_rule_loading, first_attendance_rule_id
from models.settings import get_setting

logger = logging.getLogger(__name__)

#: Why a queued door write was refused (DoorConflict.reason).
CONFLICT_REASONS = {"duplicate": _l("Done on another tablet"),
                    "closed": _l("Event closed"),
                    "token": _l("Token reused for another write"),
                    "card": _l("Card not for this event"),
                    "refused": _l("Refused")}
DOOR_WRITE_KINDS = {"check_in": _l("Check-in"), "gift": _l("Attendance gift")}


class DoorConflict(TokenMixin, db.Model):
    """A write from a door tablet's queue that the server refused when it was replayed: nothing
    else was written. Kept so every tablet and the event page can show staff what to sort out."""
    __tablename__ = "door_conflicts"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id"), index=True)
    #: "check_in" or "gift" (DOOR_WRITE_KINDS).
    kind: Mapped[str] = mapped_column(String(10))
    #: A key of CONFLICT_REASONS.
    reason: Mapped[str] = mapped_column(String(10))
    #: The guest the write was about, when the server could tell.
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"))
    #: The refusal as the replaying staff read it.
    message: Mapped[str] = mapped_column(String(300))
    #: The tablet's own name for itself, to find it in the room.
    device: Mapped[str] = mapped_column(String(40), default="")
    #: When the tablet made the write (its own clock), None if it did not say.
    queued_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    customer = relationship("Customer", lazy="joined")
    by = relationship("User", lazy="joined")


# --- Arrivals ---------------------------------------------------------------------------------

@lru_cache(maxsize=2)
def _card_query(staff_only):
    """The door's event (checkin.door_event_query) with the invitation whose card carries `code`
    and the door's attendance gift rule, in one query. Built once: the scanner runs it hundreds
    of times a minute."""
    return _guest_query(staff_only, Invitation.token == bindparam("code"))


@lru_cache(maxsize=2)
def _write_query(staff_only):
    """As _card_query, the invitation found by its id or by its card's code: a queued write's
    guest (the tablets' path), and whether the write's one-time token (parameter token) was
    used already (_token_used)."""
    return _guest_query(staff_only, (Invitation.id == bindparam("invitation_id"))
                        | (Invitation.token == bindparam("code")),
                        _token_use_query().exists().label("token_used"))


def _guest_query(staff_only, guest, *columns):
    # Whether the event has tables at all: a lecture without a seating plan is then known to
    # have none, and a guest arriving without a table costs no query for them (seating).
    has_tables = exists().where(EventTable.event_id == Event.id).label("has_tables")
    return checkin.door_event_query(staff_only).add_columns(Invitation, GiftRule, has_tables,
                                                            *columns) \
        .outerjoin(Invitation, (Invitation.event_id == Event.id) & guest) \
        .outerjoin(GiftRule, GiftRule.id == first_attendance_rule_id(Event.id)) \
        .options(*DOOR_LOADING, *card_loading(), joinedload(Invitation.table).lazyload("*"),
                 *door_rule_loading())


#: The columns of the event and of the guest's invitation that a tap at the door reads: the
#: other 17 (the venue's address, the event's blurb, a pickup point, who overrode what...) are
#: read, all at once, only by something that asks for one. Each column is CPU on the door's
#: busiest query (at two million customers, in process: 1.68 → 1.37 ms a door row).
DOOR_LOADING = (load_only(Event.id, Event.title, Event.kind, Event.status, Event.department_id,
                          Event.warehouse_id),
                load_only(Invitation.id, Invitation.event_id, Invitation.customer_id,
                          Invitation.inviter_id, Invitation.status, Invitation.companions,
                          Invitation.token, Invitation.table_id, Invitation.is_walk_in))


def _door_row(query, event_id, user, **params):
    row = db.session.execute(query(not user.has_role("admin", "manager")),
                             {"event_id": event_id, "user_id": user.id, **params}).first()
    if row is None:
        raise NotFound(_("Not found, or not yours to see."))
    event, invitation, rule, has_tables, *more = row
    if not has_tables:
        set_committed_value(event, "tables", [])  # read: there are none
    return (event, invitation, rule, *more)


def door_event_and_card(event_id, user, code):
    """(event, invitation, gift rule): the event as checkin.get_door_event_or_404 gives it, its
    invitation whose card carries `code` (None when no card of this event does) and the
    attendance gift rule the door offers (None: no gift). One query: the scanner's path."""
    return _door_row(_card_query, event_id, user, code=str(code or "")[:40])


def door_event_and_guest(event_id, user, *, invitation_id=None, code="", token=""):
    """door_event_and_card for a queued write: the guest by invitation id, or by card code;
    and fourth, whether the write's one-time `token` was used already (DoorWrite.used)."""
    return _door_row(_write_query, event_id, user, invitation_id=invitation_id or 0,
                     code=str(code or "")[:40], token=str(token or ""))


def check_in(event, invitation, *, actor, token, companions=None, table=None, override=False,
             now=None):
    """Check a guest in (checkin.check_in: once per invitation and per token; a guest already in
    raises AlreadyCheckedIn) with what the arrival earns: the attendance points (a setting; 0:
    none) and the referrer's reward when it is earned by attending."""
    now = now or utcnow()
    record, arrived = checkin.record_check_in(event, invitation, actor=actor, token=token,
                                              companions=companions, table=table,
                                              override=override, now=now)
    if arrived:
        if invitation.table_id is None:  # a walk-in, or a guest who never confirmed
            seating.seat_arrival(invitation)
        _reward_arrival(invitation.customer, event, actor=actor, now=now)
    return record


def _reward_arrival(customer, event, *, actor, now):
    """Attendance points and the referrer's reward, each once (by its key)."""
    if get_setting("points.attendance_bonus"):
        points.bonus(customer, get_setting("points.attendance_bonus"),
                     key=f"attendance:{event.id}:{customer.id}",
                     reason=_("Attended %(title)s", title=event.title), actor=actor, now=now)
    if customer.referrer_id:
        referrals.reward_referral(customer, trigger="attend", actor=actor, event=event, now=now)


def check_in_by_card(event, qr_token, *, actor, token, now=None):
    """Check in whoever's card was scanned (a scanner types the QR token and Enter)."""
    return check_in(event, find_invitation_by_token(event, qr_token), actor=actor, token=token,
                    now=now)


def register_walk_in(event, *, name, phone, actor, token, owner=None, referrer=None,
                     referrer_phone="", companions=0, table=None, existing=None, now=None):
    """A guest who came without an invitation: the customer (created, or `existing` when the
    mobile is already known), a walk-in invitation, and the check-in, in one step.

    Without `existing`, a known mobile raises DuplicateCustomer so the tablet can offer that
    customer instead. The referrer may be given as a customer or by their mobile. The owner is
    the referrer's owner by default, else the chosen marketer.

    A known customer comes as a walk-in of their own marketer (the referrer does not apply). A
    customer of the public pool stays in the pool — a marketer claims them as usual — and the
    walk-in is credited to the marketer chosen, else to the staff member at the door.
    """
    if (prior := CheckIn.by_token(token)) is not None:
        return prior
    now = now or utcnow()
    _check_door_open(event)
    checkin.check_companions(companions)
    if existing is not None:
        customer = existing
        in_pool = customer.status == "pool" or customer.owner_id is None
        inviter_id = (owner or actor).id if in_pool else customer.owner_id
    else:
        if referrer is None and (referrer_phone or "").strip():
            referrer = c.find_by_phone(referrer_phone)
            if referrer is None:
                raise InvalidInput(_("No customer has the referrer's mobile."),
                                   field="referrer_phone")
        if referrer is not None and owner is None:
            owner = referrer.owner
        if owner is None:
            raise InvalidInput(_("Choose the marketer this guest belongs to."), field="owner_id")
        customer = c.create_customer(
            c.CustomerData(name=name, phone=phone, referrer_id=referrer.id if referrer else None,
                           channel_id=_walk_in_channel()),
            actor=actor, owner=owner, now=now, at_the_door=True)
        inviter_id = customer.owner_id
    invitation = _walk_in_invitation(event, customer, inviter_id, actor=actor, now=now)
    if invitation.status == "declined":
        invitation.status = "invited"
    return check_in(event, invitation, actor=actor, token=token, companions=companions,
                    table=table, now=now)


def _walk_in_invitation(event, customer, inviter_id, *, actor, now):
    """The customer's invitation to the event, made for a walk-in if there is none. Two taps of
    the same walk-in at once: the second waits for the first's invitation (its unique key), then
    takes it, and its check-in finds the first one by the form's token."""
    found = select(Invitation).where(Invitation.event_id == event.id,
                                     Invitation.customer_id == customer.id)
    if (invitation := db.session.scalar(found)) is not None:
        return invitation
    invitation = Invitation(event_id=event.id, customer_id=customer.id, inviter_id=inviter_id,
                            is_walk_in=True, created_at=now, status_changed_at=now)
    try:
        with db.session.begin_nested():
            db.session.add(invitation)
    except IntegrityError:
        if (invitation := db.session.scalar(found)) is None:
            raise
        return invitation
    db.session.add(InvitationChange(invitation_id=invitation.id, to_status="invited",
                                    note=str(_l("Walk-in")), actor_id=actor.id, at=now))
    return invitation


def _walk_in_channel():
    """The "会议营销" channel if it exists (walk-ins come from the event)."""
    return db.session.scalar(select(c.Channel.id).where(c.Channel.name == "会议营销"))


# --- The door tablet on a bad network ---------------------------------------------------------

def roster(event):
    """What a door tablet caches to find and check guests in offline: each invitation's guest
    (name, pinyin, initials, masked phones — never a full number), the card's code, the table,
    the companions expected, and who is already in or has had the gift; the attendance gift; the
    tables, the people named and the status labels once each (2,000 guests fit in a few hundred
    KB). Empty (``open`` false) unless the event is open for check-in."""
    facts = {"event": {"id": event.id, "title": event.title, "status": event.status,
                       "status_label": str(_status_label(event.status)),
                       "open": is_door_open(event)},
             "gift": None, "tables": [], "people": {}, "statuses": {}, "guests": []}
    if not is_door_open(event):
        return facts
    state = gifts.door_state(event, None)
    if state is not None:
        facts["gift"] = gift_facts(state)
    facts["tables"] = [{"id": t.id, "name": t.name, "seats": t.seats} for t in event.tables]
    facts["statuses"] = {code: str(label) for code, label in INVITATION_STATUSES.items()}
    given = set(db.session.scalars(select(gifts.GiftIssue.customer_id).where(
        gifts.GiftIssue.event_id == event.id, gifts.GiftIssue.kind == "attendance",
        gifts.GiftIssue.reverses_id.is_(None))))
    rows = db.session.execute(
        select(Invitation.id, Invitation.customer_id, c.Customer.name, c.Customer.name_pinyin,
               c.Customer.name_initials, c.Customer.phone, c.Customer.phone2,
               Invitation.token, Invitation.table_id,
               Invitation.companions, Invitation.status, Invitation.is_walk_in,
               Invitation.inviter_id, CheckIn.at, CheckIn.by_id,
               CheckIn.companions.label("came_with"))
        .join(c.Customer, Invitation.customer_id == c.Customer.id)
        .outerjoin(CheckIn, CheckIn.invitation_id == Invitation.id)
        .where(Invitation.event_id == event.id)
        .order_by(c.Customer.name_pinyin, Invitation.id)).all()
    people = {u.id: u.display_name for u in db.session.execute(
        select(User.id, User.display_name).where(User.id.in_(
            {r.inviter_id for r in rows} | {r.by_id for r in rows if r.by_id})))}
    facts["people"] = people
    for r in rows:
        facts["guests"].append({
            "invitation_id": r.id, "customer_id": r.customer_id, "name": r.name,
            "pinyin": r.name_pinyin, "initials": r.name_initials, "phone": masked_phone(r.phone),
            # Masked too: a full number typed at the door may be either (search_clause).
            "phone2": masked_phone(r.phone2),
            "code": r.token, "table_id": r.table_id, "companions": r.companions,
            "status": r.status, "walk_in": r.is_walk_in, "inviter_id": r.inviter_id,
            "checked_in": {"at": local_dt(r.at, "%H:%M"), "by": people.get(r.by_id, ""),
                           "companions": r.came_with} if r.at else None,
            "gift_given": r.customer_id in given})
    return facts


def gift_facts(state):
    """gifts.door_state() as plain data for the tablet."""
    rule = state["rule"]
    return {"product": rule.product.name, "quantity": rule.quantity, "left": state["left"],
            "low": state["low"], "invited_only": rule.attendance_for == "invited",
            "issued": state.get("issued") is not None}


def door_conflicts(event, user=None, limit=50):
    """The refused queued writes of an event, newest first. Given a `user` who does not work the
    door, only those about customers the user may see (and those about no known customer)."""
    query = select(DoorConflict).where(DoorConflict.event_id == event.id)
    if user is not None and not user.has_role(*DOOR_ROLES):
        query = query.where(or_(DoorConflict.customer_id.is_(None), DoorConflict.customer_id.in_(
            c.visible_customers(user).with_only_columns(c.Customer.id))))
    return db.session.scalars(query.order_by(DoorConflict.at.desc(), DoorConflict.id.desc())
                              .limit(limit)).all()


def conflict_facts(conflict):
    """A DoorConflict as plain data for the tablet."""
    return {"id": conflict.id, "kind": str(DOOR_WRITE_KINDS.get(conflict.kind, conflict.kind)),
            "reason": str(CONFLICT_REASONS.get(conflict.reason, conflict.reason)),
            "name": conflict.customer.name if conflict.customer else "",
            "message": conflict.message, "device": conflict.device,
            "by": conflict.by.display_name, "at": local_dt(conflict.at, "%H:%M"),
            "queued_at": local_dt(conflict.queued_at, "%H:%M") if conflict.queued_at else ""}


@dataclass
class DoorWrite:
    """One entry of a door tablet's queue."""
    #: "check_in" or "gift".
    kind: str
    token: str
    #: The guest's invitation as the tablet knew it, or a scanned card's code it did not know.
    invitation_id: int | None = None
    code: str = ""
    companions: int | None = None
    table: object = None
    override: bool = False
    #: The tablet kept the write in its queue (made offline, or sent again later): staff did not
    #: see the server's answer when they made it, so a refusal is kept as a DoorConflict.
    queued: bool = False
    queued_at: datetime | None = None
    device: str = ""
    #: The invitation, when the caller loaded it with the event (door_event_and_guest); None:
    #: none of this event; ...: not loaded yet.
    target: object = ...
    #: Whether the token was used already, when the caller read it with the event
    #: (door_event_and_guest); None: not read yet.
    used: bool | None = None


@dataclass
class DoorOutcome:
    """What the server made of a queued write."""
    ok: bool
    message: str = ""
    #: The guest's check-in: this write's, or the one that came before it.
    check_in: CheckIn | None = None
    customer_id: int | None = None
    conflict: DoorConflict | None = None
    status: int = 200
    #: A check-in written by this very write: the guest cannot have had the gift yet.
    fresh: bool = False


def queued_at_from_ms(value):
    """A tablet's clock in milliseconds since 1970 as an aware datetime (None if absent)."""
    if not value:
        return None
    return datetime.fromtimestamp(value / 1000, timezone.utc)


@lru_cache(maxsize=1)
def _token_use_query():
    token = bindparam("token")
    return union_all(select(literal(1)).where(CheckIn.token == token),
                     select(literal(1)).where(gifts.GiftIssue.token == token),
                     select(literal(1)).where(DoorConflict.token == token))


def _token_used(token):
    """Whether a check-in, a gift issue or a door conflict was written with `token` (one
    query: a fresh write, the usual case, reads nothing more)."""
    return db.session.execute(_token_use_query(), {"token": token}).first() is not None


def _written_with(token):
    """The check-in or gift issue already written with `token`, or None."""
    return CheckIn.by_token(token) or gifts.GiftIssue.by_token(token)


def _target(event, write):
    """The invitation a write is about, or None (never raises)."""
    if write.target is not ...:
        return write.target
    if write.invitation_id:
        return db.session.scalar(select(Invitation).where(
            Invitation.id == write.invitation_id, Invitation.event_id == event.id))
    if write.code:
        return db.session.scalar(select(Invitation).where(
            Invitation.token == write.code[:40], Invitation.event_id == event.id))
    return None


def _same_write(row, event, write):
    """True if `row` (written with the write's token) is what `write` asks for."""
    target = _target(event, write)
    if target is None:
        return False
    if isinstance(row, CheckIn):
        return write.kind == "check_in" and row.invitation_id == target.id and \
            (write.companions is None or write.companions == row.companions)
    return write.kind == "gift" and row.kind == "attendance" and row.event_id == event.id \
        and row.customer_id == target.customer_id


def _door_gift(event, invitation, *, actor, token, now):
    """The attendance gift from a tablet's queue: as at the gift desk, a guest who had it
    already (from another tablet or the desk) raises gifts.AttendanceGiftGiven."""
    _check_door_open(event)
    return gifts.give_at_desk(event, invitation.customer, actor=actor, token=token, now=now)


def replay_door_write(event, write, *, actor, now=None):
    """Write one entry of a door tablet's queue: a check-in, or the attendance gift.

    Idempotent on write.token: sent again, a write already done returns its result and a
    refused one its refusal. A token already used for a different write is refused. When the
    server refuses a queued write (see DoorWrite.queued) nothing is written but a DoorConflict.
    """
    now = now or utcnow()
    if write.kind not in DOOR_WRITE_KINDS:
        raise InvalidInput(_("Unknown kind of write."))
    used = _token_used(write.token) if write.used is None else write.used
    done = _written_with(write.token) if used else None
    if done is not None and _same_write(done, event, write):
        first = done if isinstance(done, CheckIn) else db.session.scalar(
            select(CheckIn).where(CheckIn.event_id == done.event_id,
                                  CheckIn.customer_id == done.customer_id))
        return DoorOutcome(ok=True, check_in=first, customer_id=done.customer_id)
    if used and done is None and (conflict := DoorConflict.by_token(write.token)) is not None:
        return DoorOutcome(ok=False, message=conflict.message, conflict=conflict,
                           customer_id=conflict.customer_id, status=Conflict.status)
    target = _target(event, write)
    if done is not None:
        return _refuse(event, write, "token", Conflict(_(
            "This write's one-time token was already used for a different write, so nothing "
            "was written. Check the guest in again on the tablet.")), target=target,
            actor=actor, now=now)
    try:
        with undone_if_it_fails():
            if target is None:
                raise NotFound(_("This invitation card is not valid for this event."))
            if write.kind == "check_in":
                record = check_in(event, target, actor=actor, token=write.token,
                                  companions=write.companions, table=write.table,
                                  override=write.override, now=now)
            else:
                _door_gift(event, target, actor=actor, token=write.token, now=now)
                record = check_in_of(target)
    except AlreadyCheckedIn as exc:
        return _refuse(event, write, "duplicate", exc, target=target, actor=actor, now=now,
                       record=exc.check_in)
    except gifts.AttendanceGiftGiven as exc:
        return _refuse(event, write, "duplicate", exc, target=target, actor=actor, now=now,
                       record=check_in_of(target))
    except DoorClosed as exc:
        return _refuse(event, write, "closed", exc, target=target, actor=actor, now=now)
    except NotFound as exc:
        return _refuse(event, write, "card", exc, target=target, actor=actor, now=now)
    except OperationError as exc:
        return _refuse(event, write, "refused", exc, target=target, actor=actor, now=now)
    return DoorOutcome(ok=True, check_in=record, customer_id=target.customer_id,
                       fresh=write.kind == "check_in")


def _refuse(event, write, reason, exc, *, target, actor, now, record=None):
    """The refusal of a door write; a queued one is kept as a DoorConflict (once per token)."""
    conflict = None
    if write.queued:
        conflict, _new = add_once(DoorConflict(
            token=write.token, event_id=event.id, kind=write.kind, reason=reason,
            customer_id=target.customer_id if target else None, message=str(exc.message)[:300],
            device=(write.device or "")[:40], queued_at=write.queued_at, by_id=actor.id, at=now))
        logger.info("door conflict on event %s: %s (%s)", event.id, reason, write.token)
    return DoorOutcome(ok=False, message=str(exc.message), check_in=record,
                       customer_id=target.customer_id if target else None, conflict=conflict,
                       status=exc.status)

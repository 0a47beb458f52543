"""Check-in at the door (签到): find an invitation, check the guest in once, seat them, register
walk-ins, count arrivals live.

A check-in is written once per invitation (a unique constraint) and once per form submission
(its one-time token): a double tap, a retry after a timeout, or two tablets at the same moment
all end with one check-in.

The door's workflow — a check-in with what an arrival earns, walk-ins, the scanner's one query,
the tablet on a bad network — is models/door.py, above this ledger.
"""
from datetime import datetime
from functools import lru_cache

from flask_babel import gettext as _, lazy_gettext as _l
from sqlalchemy import (CheckConstraint, ForeignKey, Index, Integer, String, bindparam, case,
                        exists, func, or_, select)
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import (Mapped, lazyload, make_transient_to_detached, mapped_column,
                            relationship)
from sqlalchemy.orm.attributes import set_committed_value

from extensions import db
from formatting import local_dt
from models import customers as c, daily
from models.accounts import User
from models.audit import audit, register_actions, register_targets
from models.base import (Conflict, InvalidInput, NotFound, OperationError, TokenMixin,
                         UTCDateTime, utcnow)
from models.events import STATUSES, Event, Invitation, InvitationChange
from models.scoping import staffed_event_ids, staffs_event
from models.settings import define, define_area, get_setting

#: The most companions the database takes on a check-in; the door's own limit is the setting
#: checkin.max_companions (at most this).
MAX_ARRIVING_COMPANIONS = 10
#: Roles that work the door.
DOOR_ROLES = ("admin", "manager", "event_staff")


class CheckIn(TokenMixin, db.Model):
    __tablename__ = "check_ins"
    __table_args__ = (CheckConstraint("companions BETWEEN 0 AND 10", name="companions_range"),
                      # An event's arrivals, and whether a customer came (an event's deals:
                      # reports.event_roi.arrived, asked once per order).
                      Index("ix_check_ins_event_customer", "event_id", "customer_id"),
                      # The arrivals of a period (the home page's week by week), read by date.
                      Index("ix_check_ins_at", "at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    #: One check-in per invitation: the database refuses a second.
    invitation_id: Mapped[int] = mapped_column(ForeignKey("invitations.id"), unique=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    #: Companions who actually came.
    companions: Mapped[int] = mapped_column(Integer, default=0)
    by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    invitation = relationship("Invitation", lazy="joined")
    by = relationship("User", lazy="joined")


class AlreadyCheckedIn(Conflict):
    """The guest was checked in before; `check_in` is that first check-in."""

    def __init__(self, check_in):
        super().__init__(_("%(name)s was already checked in at %(time)s by %(who)s.",
                           name=check_in.invitation.customer.name,
                           time=local_dt(check_in.at, "%H:%M"), who=check_in.by.display_name))
        self.check_in = check_in


# --- Reads -------------------------------------------------------------------------------------

def door_events(user):
    """Events this user may work the door of: assigned event staff, or managers and admins."""
    query = select(Event).where(Event.status.in_(("open", "in_progress")))
    if user.has_role("admin", "manager"):
        return query
    return query.where(Event.id.in_(staffed_event_ids(user.id)))


@lru_cache(maxsize=2)
def door_event_query(staff_only):
    """An event by id (parameter event_id) for its door; `staff_only`: only if the user
    (user_id) is its staff. Built once: the scanner runs it hundreds of times a minute."""
    query = select(Event).where(Event.id == bindparam("event_id")) \
        .options(lazyload(Event.department))
    if staff_only:
        query = query.where(Event.id.in_(staffed_event_ids(bindparam("user_id"))))
    return query


def get_door_event_or_404(event_id, user):
    """An event the user works the door of (any status: the board stays readable)."""
    event = db.session.scalar(door_event_query(not user.has_role("admin", "manager")),
                              {"event_id": event_id, "user_id": user.id})
    if event is None:
        raise NotFound(_("Not found, or not yours to see."))
    return event


def works_door_of(event, user):
    """Whether `user` works the door of `event`: its event staff, or a manager or admin. They
    see every guest of the event by name (DESIGN §2: event staff see that event's attendees)."""
    if user.has_role("admin", "manager"):
        return True
    return user.has_role("event_staff") and staffs_event(user, event.id)


def get_guest_or_404(event, customer_id):
    """The customer invited to `event` (walk-ins included) with `customer_id`, else NotFound:
    at the door only the event's guests exist, so a customer never on its list is a 404 like
    any row out of scope — not a refusal that names them."""
    guest = db.session.scalar(
        select(c.Customer).join(Invitation, Invitation.customer_id == c.Customer.id)
        .where(Invitation.event_id == event.id, c.Customer.id == customer_id)) \
        if isinstance(customer_id, int) and 0 < customer_id < 2**31 else None
    if guest is None:
        raise NotFound(_("Not found, or not yours to see."))
    return guest


def find_at_door(event, text, limit=12):
    """Invitations of `event` matching what was typed or scanned: the card's QR token, or what
    the search box finds (customers.search_clause), in the order of the tablet's guest list."""
    text = (text or "").strip()
    if not text:
        return []
    exact = db.session.scalar(select(Invitation).where(Invitation.event_id == event.id,
                                                       Invitation.token == text[:40]))
    if exact is not None:
        return [exact]
    clause = c.search_clause(text)
    if clause is None:
        return []
    return db.session.scalars(
        select(Invitation).join(c.Customer, Invitation.customer_id == c.Customer.id)
        .where(Invitation.event_id == event.id, clause)
        .order_by(c.Customer.name_pinyin, Invitation.id).limit(limit)).all()


def summary(record):
    """Plain facts of a check-in for the tablet's answer (read before the commit expires it)."""
    invitation = record.invitation
    return {"name": invitation.customer.name, "customer_id": invitation.customer_id,
            "at": record.at, "by": record.by.display_name,
            "companions": record.companions, "inviter": invitation.inviter.display_name,
            "table": invitation.table.name if invitation.table else ""}


def check_in_of(invitation):
    return db.session.scalar(select(CheckIn).where(CheckIn.invitation_id == invitation.id))


#: The invitations that hold seats at their table: confirmed guests planned there, arrivals.
SEATED = ("confirmed", "attended")


def _party():
    """A guest and their companions: those who came, once the guest has arrived; else those
    expected."""
    return 1 + func.coalesce(CheckIn.companions, Invitation.companions)


def seats_taken(table, *, besides=None):
    """People at a table: each arrival with the companions who came, and each confirmed guest
    planned there who is not here yet with the companions expected — leaving out the invitation
    `besides` (the one being seated)."""
    return db.session.scalar(
        select(func.coalesce(func.sum(_party()), 0)).select_from(Invitation)
        .outerjoin(CheckIn, CheckIn.invitation_id == Invitation.id)
        .where(Invitation.table_id == table.id, Invitation.status.in_(SEATED),
               Invitation.id != (besides.id if besides is not None else -1))) or 0


def seats_taken_at(event):
    """{table id: seats_taken(table)} for the tables of `event` that have anyone, in one query."""
    return dict(db.session.execute(
        select(Invitation.table_id, func.sum(_party())).select_from(Invitation)
        .outerjoin(CheckIn, CheckIn.invitation_id == Invitation.id)
        .where(Invitation.event_id == event.id, Invitation.table_id.is_not(None),
               Invitation.status.in_(SEATED)).group_by(Invitation.table_id)).all())


def room(event):
    """The room view: per table, the people who arrived and those planned there who are not
    here yet (counted as seats_taken counts them), with their names —
    [{"table", "arrived", "planned", "arrived_names", "planned_names"}]."""
    rows = {table.id: {"table": table, "arrived": 0, "planned": 0, "arrived_names": [],
                       "planned_names": []} for table in event.tables}
    guests = db.session.execute(
        select(Invitation.table_id, c.Customer.name, CheckIn.id.is_not(None), _party())
        .join(c.Customer, Invitation.customer_id == c.Customer.id)
        .outerjoin(CheckIn, CheckIn.invitation_id == Invitation.id)
        .where(Invitation.event_id == event.id, Invitation.table_id.is_not(None),
               Invitation.status.in_(SEATED))
        .order_by(CheckIn.at, c.Customer.name_pinyin, Invitation.id))
    for table_id, name, arrived, people in guests:
        if (row := rows.get(table_id)) is not None:
            kind = "arrived" if arrived else "planned"
            row[kind] += people
            row[f"{kind}_names"].append(name + (f" +{people - 1}" if people > 1 else ""))
    return list(rows.values())


def board(event, user=None):
    """The live board: per marketer and in total — invited, confirmed, arrived, companions,
    walk-ins, arrival rate — and the confirmed guests not yet here.

    `user`: who looks. Those working the door (and None: everyone) see every missing guest by
    name; anyone else (a department head) sees their own customers by name and the others as
    a count (`missing_elsewhere`), since those customers' pages are a 404 for them."""
    arrived = case((CheckIn.id.is_not(None), 1), else_=0)
    invited_and_came = case((CheckIn.id.is_not(None) & ~Invitation.is_walk_in, 1), else_=0)
    confirmed = case((Invitation.status.in_(("confirmed", "attended")) & ~Invitation.is_walk_in,
                      1), else_=0)
    rows = db.session.execute(
        select(Invitation.inviter_id,
               func.count(Invitation.id),
               func.sum(confirmed),
               func.sum(arrived),
               func.coalesce(func.sum(CheckIn.companions), 0),
               func.sum(case((Invitation.is_walk_in, 1), else_=0)),
               func.sum(invited_and_came))
        .outerjoin(CheckIn, CheckIn.invitation_id == Invitation.id)
        .where(Invitation.event_id == event.id, Invitation.status != "declined")
        .group_by(Invitation.inviter_id)).all()
    users = {u.id: u for u in db.session.scalars(select(User).where(
        User.id.in_([r[0] for r in rows])))}
    lines = [{"marketer": users[r[0]].display_name, "invited": r[1], "confirmed": int(r[2] or 0),
              "arrived": int(r[3] or 0), "companions": int(r[4] or 0),
              "walk_ins": int(r[5] or 0), "came_invited": int(r[6] or 0)} for r in rows]
    lines.sort(key=lambda line: (-line["arrived"], line["marketer"]))
    total = {key: sum(line[key] for line in lines) for key in (
        "invited", "confirmed", "arrived", "companions", "walk_ins", "came_invited")}
    for line in [*lines, total]:
        # 到场率: invited guests who came, out of those confirmed (walk-ins are extra).
        line["rate"] = round(100 * line["came_invited"] / line["confirmed"]) \
            if line["confirmed"] else 0
    missing = db.session.scalars(
        select(Invitation).outerjoin(CheckIn, CheckIn.invitation_id == Invitation.id)
        .join(c.Customer, Invitation.customer_id == c.Customer.id)
        .where(Invitation.event_id == event.id, Invitation.status == "confirmed",
               CheckIn.id.is_(None)).order_by(Invitation.inviter_id, c.Customer.name_pinyin)
    ).all()
    elsewhere = 0
    if user is not None and missing and not works_door_of(event, user):
        named = set(db.session.scalars(
            c.visible_customers(user).with_only_columns(c.Customer.id)
            .where(c.Customer.id.in_([invitation.customer_id for invitation in missing]))))
        elsewhere = sum(invitation.customer_id not in named for invitation in missing)
        missing = [invitation for invitation in missing if invitation.customer_id in named]
    return {"lines": lines, "total": total, "missing": missing,
            "missing_elsewhere": elsewhere}


# --- Operations --------------------------------------------------------------------------------

class DoorClosed(Conflict):
    """The event is not open for check-in."""


def is_door_open(event):
    return event.status in ("open", "in_progress")


def _check_door_open(event):
    if not is_door_open(event):
        raise DoorClosed(_("Check-in is closed: the event is %(status)s.",
                         status=_status_label(event.status)))


def check_companions(companions):
    """Companions who came with a guest: 0 up to the setting (default 5)."""
    if companions == 0:
        return  # the usual case, and the door's fastest: no setting to read
    limit = min(get_setting("checkin.max_companions"), MAX_ARRIVING_COMPANIONS)
    if not 0 < companions <= limit:
        raise InvalidInput(_("At most %(n)s companions can come with one guest; register the "
                             "others as guests of their own.", n=limit), field="companions")


def _status_label(status):
    return STATUSES.get(status, status)


def _seat(invitation, table, companions, *, override, actor, now):
    """Put the guest at `table` (None keeps the planned one); a full table needs an override.
    The seats of guests planned there who are not here yet count as taken."""
    if table is None:
        return
    if table.event_id != invitation.event_id:
        raise InvalidInput(_("That table is not in this event's room."), field="table_id")
    taken = seats_taken(table, besides=invitation)
    if taken + companions + 1 > table.seats and not override:
        raise Conflict(_("%(table)s is full (%(taken)s of %(seats)s seats). Choose another "
                         "table, or tick the override.", table=table.name, taken=taken,
                         seats=table.seats), field="table_id")
    if taken + companions + 1 > table.seats:
        audit(actor, "checkin.table_override", invitation, summary=table.name, now=now)
    invitation.table = table


def check_in(event, invitation, *, actor, token, companions=None, table=None, override=False,
             now=None):
    """Check a guest in. Idempotent: the same token returns the first check-in; a guest already
    checked in raises AlreadyCheckedIn naming when and by whom. What an arrival earns (points,
    the referrer's reward) is the door's: routes call models.door.check_in."""
    return record_check_in(event, invitation, actor=actor, token=token, companions=companions,
                           table=table, override=override, now=now)[0]


def record_check_in(event, invitation, *, actor, token, companions=None, table=None,
                    override=False, now=None):
    """check_in, and whether it went as far as the write: (check-in, arrived). `arrived` is
    False when the token's own check-in is returned before the door and the seat are checked
    again; what an arrival earns is then not looked at again."""
    now = now or utcnow()
    companions = invitation.companions if companions is None else companions
    try:
        if invitation.event_id != event.id:
            raise NotFound(_("This invitation card is not valid for this event."))
        _check_door_open(event)
    except OperationError:
        if (mine := CheckIn.by_token(token)) is not None:
            return mine, False  # this very form was written before (the door has closed since)
        raise
    try:
        if invitation.status == "declined":
            raise Conflict(_("%(name)s declined this invitation. Register them as a walk-in if "
                             "they came anyway.", name=invitation.customer.name))
        check_companions(companions)
        _seat(invitation, table, companions, override=override, actor=actor, now=now)
    except OperationError:
        if (mine := CheckIn.by_token(token)) is not None:
            return mine, False
        if (first := check_in_of(invitation)) is not None:
            raise AlreadyCheckedIn(first) from None
        raise
    record = _write_check_in(event, invitation, actor=actor, token=token,
                             companions=companions, now=now)
    if event.status == "open":
        event.status = "in_progress"  # the first arrival starts the event
    return record, True


def _write_check_in(event, invitation, *, actor, token, companions, now):
    """The check-in row, the invitation's change to "attended" and its history line, in as few
    round trips as the door can afford (it checks in hundreds of guests a minute).

    The row is inserted unless this guest or this token has one already (ON CONFLICT DO NOTHING:
    no savepoint, and the loser of a race between two tablets waits for the winner and writes
    nothing). On PostgreSQL the three writes are one statement (the last two happen only if the
    row was inserted). The ORM objects are set to what was written: nothing is flushed again.
    """
    values = {"invitation_id": invitation.id, "event_id": event.id,
              "customer_id": invitation.customer_id, "companions": companions,
              "by_id": actor.id, "at": now, "token": token}
    params = {f"p_{key}": value for key, value in values.items()} | {
        "p_from_status": invitation.status, "p_to_status": "attended",
        "p_note": _("with %(n)s companions", n=companions) if companions else ""}
    statements = _check_in_statements(db.session.get_bind().dialect.name)
    if "all" in statements:
        new_id = db.session.scalar(statements["all"], params)
        c.forget_last_contact(invitation.customer_id)  # moved by the statement
    elif (new_id := db.session.scalar(statements["check_in"], params)) is not None:
        db.session.execute(statements["history"], params)
        db.session.execute(statements["attended"], params)
        # An arrival is a contact (最近跟进); on PostgreSQL a part of the statement above.
        c.touch_last_contact(invitation.customer_id, now)
    if new_id is None:  # written already: a resubmission of this form, or another tablet won
        if (mine := CheckIn.by_token(token)) is not None:
            return mine
        raise AlreadyCheckedIn(check_in_of(invitation))
    # An arrival scanned on a closed day (a tablet that was offline past midnight) changes that
    # day's kept figures; written without the ORM, so the hook does not see it.
    daily.forget_moments([now])
    set_committed_value(invitation, "status", "attended")
    set_committed_value(invitation, "status_changed_at", now)
    record = CheckIn(id=new_id, **values)
    record.invitation, record.by = invitation, actor
    make_transient_to_detached(record)  # what was written, as if loaded: nothing to flush
    db.session.add(record)
    return record


@lru_cache(maxsize=4)
def _check_in_statements(dialect):
    """_write_check_in's statements, built once with named parameters (p_<column>): building
    and keying a statement of this size anew costs more CPU than running it."""
    rows, changes, invitations = (CheckIn.__table__, InvitationChange.__table__,
                                  Invitation.__table__)
    types = {"invitation_id": Integer, "event_id": Integer, "customer_id": Integer,
             "companions": Integer, "by_id": Integer, "at": UTCDateTime(), "token": String,
             "from_status": String, "to_status": String, "note": String}
    p = {name: bindparam(f"p_{name}", type_=type_) for name, type_ in types.items()}
    check_in = (postgresql_insert if dialect == "postgresql" else sqlite_insert)(rows).values(
        {name: p[name] for name in ("invitation_id", "event_id", "customer_id", "companions",
                                    "by_id", "at", "token")}).on_conflict_do_nothing() \
        .returning(rows.c.id)
    history = select(p["invitation_id"], p["from_status"], p["to_status"], p["note"],
                     p["by_id"], p["at"])
    columns = ["invitation_id", "from_status", "to_status", "note", "actor_id", "at"]
    attended = invitations.update().where(invitations.c.id == p["invitation_id"]) \
        .values(status=p["to_status"], status_changed_at=p["at"])
    if dialect != "postgresql":
        return {"check_in": check_in, "history": changes.insert().from_select(columns, history),
                "attended": attended}
    new = check_in.cte("new_check_in")
    customers = c.Customer.__table__
    contacted = customers.update().where(
        customers.c.id == p["customer_id"], exists(select(new.c.id)),
        or_(customers.c.last_contact_at.is_(None), customers.c.last_contact_at < p["at"])) \
        .values(last_contact_at=p["at"])
    return {"all": select(new.c.id).add_cte(
        changes.insert().from_select(columns, history.select_from(new)).cte("history"),
        attended.where(exists(select(new.c.id))).cte("attended"),
        contacted.cte("contacted"))}


define_area("checkin", _l("Check-in"))
define("checkin.max_companions", "int", 5, _l("Most companions with one guest"),
       _l("The door refuses more companions than this on one check-in or walk-in."), min=0,
       max=MAX_ARRIVING_COMPANIONS)
register_actions({"checkin.table_override": _l("Seated beyond a table's seats")})
register_targets({"check_ins": _l("Check-in"), "door_conflicts": _l("Door conflict")})

"""Seating (排座): each confirmed guest's planned table, planned before the event day, changed
by hand on the seating page, and shown at the door as the answer to a scan.

A guest sits at a table hosted by the marketer who invited them; when those are full, at free
seats of a table without a host, then of any other table. A party — the guest and their
companions — is never split: it goes to a table where all of it fits, else it waits on the
seating page without a table. Seats count people as checkin.seats_taken counts them: arrivals
with the companions who came, planned guests with the companions expected.

A workflow over events (invitations, tables) and check-ins (DESIGN §3 Layers, 4): the
invitation list confirms through change_invitation here, which plans the seat in the same
transaction; events.change_invitation alone leaves the seat as it is.
"""
import logging

from flask_babel import gettext as _, lazy_gettext as _l
from sqlalchemy import select

from extensions import db
from models.audit import audit, register_actions, register_fields
from models.base import Conflict, InvalidInput, NotFound, PermissionDenied
from models.checkin import (DOOR_ROLES, SEATED, CheckIn, check_in_of, seats_taken,
                            seats_taken_at, works_door_of)
from models.customers import Customer
from models import events as ev

logger = logging.getLogger(__name__)


# --- Reads -------------------------------------------------------------------------------------

def party_size(invitation):
    """The people of a guest's party: the guest, and the companions who came once the guest
    has checked in, else those expected."""
    record = check_in_of(invitation) if invitation.status == "attended" else None
    return 1 + (record.companions if record is not None else invitation.companions)


def free_seats(event):
    """{table id: seats left} for every table of `event` (below 0 when a table is over-full)."""
    taken = seats_taken_at(event)
    return {table.id: table.seats - taken.get(table.id, 0) for table in event.tables}


def _preference(table, inviter_id):
    """Where a party looks first: the inviter's tables, then tables without a host, then the
    other marketers' tables; by number within each."""
    rank = 0 if table.host_id == inviter_id else 1 if table.host_id is None else 2
    return rank, table.number


def choose_table(tables, free, inviter_id, size, *, own_only=False):
    """The table where a party of `size` invited by `inviter_id` sits: the first in the order of
    _preference with `size` seats free (`own_only`: only the inviter's tables), else None."""
    for table in sorted(tables, key=lambda t: _preference(t, inviter_id)):
        if own_only and table.host_id != inviter_id:
            break
        if free.get(table.id, 0) >= size:
            return table
    return None


def seating(event, user):
    """The seating page: each table with its host, seats taken and left and its guests (each with
    their party's size), then the confirmed guests without a table. Those who work the door and
    planners who see every customer get every guest by name; anyone else (a department head)
    gets their own customers by name and the others as a count, as on the printed seating chart.

    {"tables": [{"table", "taken", "free", "guests", "others"}], "unseated": {"guests",
    "others", "people"}, "seats", "taken", "people"}; a guest is {"invitation", "people",
    "arrived"}."""
    named = None if works_door_of(event, user) else set(db.session.scalars(
        ev.visible_invitations(user, event).with_only_columns(ev.Invitation.id)))
    rows = db.session.execute(
        select(ev.Invitation, CheckIn.companions)
        .join(Customer, ev.Invitation.customer_id == Customer.id)
        .outerjoin(CheckIn, CheckIn.invitation_id == ev.Invitation.id)
        .where(ev.Invitation.event_id == event.id, ev.Invitation.status.in_(SEATED))
        .order_by(Customer.name_pinyin, ev.Invitation.id)).all()
    places = {table.id: {"table": table, "taken": 0, "guests": [], "others": 0}
              for table in event.tables}
    unseated = {"guests": [], "others": 0, "people": 0}
    for invitation, came in rows:
        people = 1 + (came if came is not None else invitation.companions)
        place = places.get(invitation.table_id, unseated)
        place["taken" if place is not unseated else "people"] += people
        if named is None or invitation.id in named:
            place["guests"].append({"invitation": invitation, "people": people,
                                    "arrived": came is not None})
        else:
            place["others"] += 1
    tables = list(places.values())
    for place in tables:
        place["free"] = place["table"].seats - place["taken"]
    return {"tables": tables, "unseated": unseated,
            "seats": sum(t["table"].seats for t in tables),
            "taken": sum(t["taken"] for t in tables),
            "people": sum(t["taken"] for t in tables) + unseated["people"]}


def get_guest_or_404(event, invitation_id, user):
    """A guest of `event` the seating page shows `user` by name, else NotFound."""
    query = select(ev.Invitation) if works_door_of(event, user) else \
        ev.visible_invitations(user, event)
    invitation = db.session.scalar(query.where(ev.Invitation.id == invitation_id,
                                               ev.Invitation.event_id == event.id))
    if invitation is None:
        raise NotFound(_("Not found, or not yours to see."))
    return invitation


def may_move(user, invitation):
    """Whether `user` may move this guest: planners any guest, the door's staff a guest who has
    checked in."""
    return user.has_role(*ev.PLANNER_ROLES) or (
        user.has_role(*DOOR_ROLES) and invitation.status == "attended")


# --- Operations --------------------------------------------------------------------------------

def _lock_room(event):
    """Lock the event row (PostgreSQL): two tablets can't both take a table's last seats."""
    db.session.execute(select(ev.Event.id).where(ev.Event.id == event.id).with_for_update())


def plan_seat(invitation):
    """Plan a table for a confirmed guest who has none (see the module's rule). Returns the
    table, or None when no table has room for the whole party."""
    if invitation.table_id is not None or invitation.status != "confirmed":
        return invitation.table
    event = invitation.event
    _lock_room(event)
    invitation.table = choose_table(event.tables, free_seats(event), invitation.inviter_id,
                                    party_size(invitation))
    db.session.flush()
    return invitation.table


def seat_arrival(invitation):
    """A guest who arrived without a table (a walk-in, a guest who never confirmed): the table
    the plan would have given them, now. Returns it, or None when no table has room."""
    if invitation.table_id is not None:
        return invitation.table
    event = invitation.event
    if not event.tables:
        return None
    _lock_room(event)
    invitation.table = choose_table(event.tables, free_seats(event), invitation.inviter_id,
                                    party_size(invitation))
    db.session.flush()
    return invitation.table


def change_invitation(invitation, to_status, *, actor, companions=None, note="",
                      override_reason="", now=None):
    """Confirm, decline or re-invite (events.change_invitation) with the seat that goes with it:
    a confirmed guest gets a planned table (plan_seat); a guest no longer coming gives theirs
    up, and a move by hand with it."""
    ev.change_invitation(invitation, to_status, actor=actor, companions=companions, note=note,
                         override_reason=override_reason, now=now)
    if invitation.status == "confirmed":
        plan_seat(invitation)
    elif invitation.table_id is not None:
        invitation.table, invitation.is_seated_by_hand = None, False
        db.session.flush()
    return invitation


def _check_room_open(event):
    if event.status in ("closed", "cancelled"):
        raise Conflict(_("The seats of a closed or cancelled event are final."))


def move_guest(invitation, table, *, actor, override_reason="", now=None):
    """Move a guest with their whole party to `table` by hand: planners before the day, the
    door's staff once the guest has checked in. A table without room for the party is refused,
    unless a manager gives a reason (recorded in the audit log). Re-planning leaves a guest
    moved by hand where they are."""
    event = invitation.event
    _check_room_open(event)
    if table is None or table.event_id != invitation.event_id:
        raise InvalidInput(_("That table is not in this event's room."), field="table_id")
    name = invitation.customer.name
    if invitation.status not in SEATED:
        raise Conflict(_("%(name)s is not confirmed: only confirmed guests and arrivals have a "
                         "seat.", name=name))
    if not may_move(actor, invitation):
        raise PermissionDenied(_("At the door a guest is moved once they have checked in; "
                                 "before that the planners seat the guests."))
    if invitation.table_id == table.id:
        raise InvalidInput(_("%(name)s already sits at %(table)s.", name=name,
                             table=table.name), field="table_id")
    _lock_room(event)
    size, taken = party_size(invitation), seats_taken(table, besides=invitation)
    reason = (override_reason or "").strip()[:200]
    beyond = taken + size > table.seats
    if beyond:
        facts = {"table": table.name, "free": max(table.seats - taken, 0), "seats": table.seats,
                 "name": name, "n": size}
        if not actor.has_role(*ev.OVERRIDE_ROLES):
            raise Conflict(_("%(table)s has %(free)s of %(seats)s seats left and %(name)s comes "
                             "as %(n)s. Choose another table, or ask a manager to seat them "
                             "there anyway.", **facts), field="table_id")
        if not reason:
            raise InvalidInput(_("%(table)s has %(free)s of %(seats)s seats left and %(name)s "
                                 "comes as %(n)s. Give a reason to seat them beyond its seats.",
                                 **facts), field="override_reason")
    before = invitation.table.name if invitation.table else ""
    invitation.table, invitation.is_seated_by_hand = table, True
    db.session.flush()
    audit(actor, "seating.override" if beyond else "seating.move", invitation,
          summary=reason if beyond else name, before={"table": before},
          after={"table": table.name}, now=now)
    return invitation


def replan(event, *, actor, now=None):
    """Plan the seats again (重新排座): every confirmed guest not yet checked in and not moved by
    hand gives up the planned table and is seated anew, those confirmed first first. Arrivals
    and guests moved by hand keep their seats (a move by hand is a decision the button must not
    undo; move the guest again to change it). In two passes — first each party at its inviter's
    tables, then the rest at free seats elsewhere — so one marketer's overflow doesn't take a
    table before its own host's guests. Returns (seated, without a table)."""
    if not actor.has_role(*ev.PLANNER_ROLES):
        raise PermissionDenied(_("Only managers and department heads plan events."))
    _check_room_open(event)
    _lock_room(event)
    guests = db.session.scalars(select(ev.Invitation).where(
        ev.Invitation.event_id == event.id, ev.Invitation.status == "confirmed",
        ~ev.Invitation.is_seated_by_hand)
        .order_by(ev.Invitation.status_changed_at, ev.Invitation.id)).all()
    for invitation in guests:
        invitation.table = None
    db.session.flush()
    free = free_seats(event)
    for own_only in (True, False):
        for invitation in guests:
            size = 1 + invitation.companions
            if invitation.table is None and (table := choose_table(
                    event.tables, free, invitation.inviter_id, size, own_only=own_only)):
                invitation.table = table
                free[table.id] -= size
    db.session.flush()
    left = sum(invitation.table is None for invitation in guests)
    audit(actor, "seating.replan", event, summary=_("%(seated)s seated, %(left)s without a table",
                                                    seated=len(guests) - left, left=left),
          now=now)
    logger.info("seating of event %s planned again: %s guests, %s without a table", event.id,
                len(guests), left)
    return len(guests) - left, left


register_actions({"seating.move": _l("Moved a guest to another table"),
                  "seating.override": _l("Seated a guest beyond a table's seats"),
                  "seating.replan": _l("Planned the seats again")})
register_fields({"table": _l("Table")})

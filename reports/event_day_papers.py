"""Paper for the event day (会务用纸): the sign-in sheet (签到表), the seating chart (座位表),
the table cards (桌卡) and the pickup list for the bus driver (接送名单).

A guest is an invitation confirmed or attended, or a walk-in. Names are printed only of the
guests the printer may see (`Params.guest_ids`, chosen by the route); the seating chart counts
every guest in a table's seats used and the others only as a number. Phones of guests are
always masked on paper.
"""
from dataclasses import dataclass
from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import or_, select

from extensions import db
from formatting import local_dt, masked_phone, national_phone
from models.checkin import CheckIn, works_door_of
from models.customers import Customer
from models.events import Event, Invitation, visible_invitations
from reports import render_pdf

#: How the sign-in sheet is grouped.
GROUPINGS = ("marketer", "table")
#: Table cards: an A4 sheet folded into a tent (the name twice, one upside down), or one A5.
CARD_SIZES = ("a4", "a5")
#: Rows of the sign-in sheet on one A4 page (each tall enough to sign on).
ROWS_PER_PAGE = 25
#: Who counts as a guest on the day's paper.
GUEST = or_(Invitation.status.in_(("confirmed", "attended")), Invitation.is_walk_in)


@dataclass(frozen=True)
class Params:
    event_id: int
    #: The invitations the printer may see by name (guest_ids_for).
    guest_ids: tuple
    printed_by: str
    printed_at: datetime
    #: GROUPINGS for the sign-in sheet, CARD_SIZES for the table cards.
    choice: str = ""


def guest_ids_for(event, user):
    """The ids of the event's guests `user` may see by name: all of them for those who work the
    event's door (its staff, managers, admins), else the invitations of customers in the user's
    scope."""
    query = select(Invitation.id).where(Invitation.event_id == event.id, GUEST) \
        if works_door_of(event, user) else \
        visible_invitations(user, event).with_only_columns(Invitation.id).where(GUEST)
    return tuple(db.session.scalars(query))


def _guests(event):
    """Every guest of the event, in the order of their names' pinyin, each with `companions`:
    those who came with them if they have arrived, else those expected."""
    came = dict(db.session.execute(select(CheckIn.invitation_id, CheckIn.companions).where(
        CheckIn.event_id == event.id)).all())
    guests = db.session.scalars(
        select(Invitation).join(Customer, Invitation.customer_id == Customer.id)
        .where(Invitation.event_id == event.id, GUEST)
        .order_by(Customer.name_pinyin, Invitation.id)).all()
    return [(invitation, came.get(invitation.id, invitation.companions))
            for invitation in guests]


def _header(event, params, title):
    return {"title": f"{title} · {event.title}", "event": event.title,
            "day": f"{local_dt(event.starts_at, '%Y-%m-%d %H:%M')}–"
                   f"{local_dt(event.ends_at, '%H:%M')}",
            "venue": " ".join(part for part in (event.venue, event.address) if part),
            "printed_by": params.printed_by, "printed_at": params.printed_at}


def _table_key(table):
    return (0, table.number) if table else (1, 0)


# --- 签到表 ------------------------------------------------------------------------------------

def gather_sign_in(params):
    """The sign-in sheet: the guests grouped by marketer or by table, cut into pages of
    ROWS_PER_PAGE rows; the group is named on its first row and at the top of every page."""
    event = db.session.get(Event, params.event_id)
    seen = set(params.guest_ids)
    guests = [(i, companions) for i, companions in _guests(event) if i.id in seen]
    by_table = params.choice == "table"
    guests.sort(key=(lambda g: _table_key(g[0].table)) if by_table else
                (lambda g: g[0].inviter.display_name))
    rows, groups = [], {}
    for n, (invitation, companions) in enumerate(guests, 1):
        if by_table:
            group = invitation.table.name if invitation.table else _("No table yet")
        else:
            group = invitation.inviter.display_name
        summary = groups.setdefault(group, {"name": group, "guests": 0, "companions": 0})
        summary["guests"] += 1
        summary["companions"] += companions
        rows.append({"n": n, "group": group, "name": invitation.customer.name,
                     "phone": masked_phone(invitation.customer.phone),
                     "companions": companions,
                     "other": invitation.inviter.display_name if by_table else
                     (invitation.table.name if invitation.table else ""),
                     "walk_in": invitation.is_walk_in,
                     "arrived": invitation.status == "attended"})
    pages = [rows[start:start + ROWS_PER_PAGE] for start in range(0, len(rows), ROWS_PER_PAGE)]
    for page in pages:
        for before, row in zip([None, *page], page):
            row["first"] = before is None or before["group"] != row["group"]
    return {**_header(event, params, _("Sign-in sheet")), "by_table": by_table, "pages": pages,
            "groups": list(groups.values()), "guests": len(rows),
            "companions": sum(row["companions"] for row in rows)}


def build_sign_in(data):
    return render_pdf("print/sign_in_sheet.html", data)


# --- 座位表 ------------------------------------------------------------------------------------

def gather_seating(params):
    """The seating chart: every table with its host, guests and seats used (each guest and
    their companions), then the guests without a table."""
    event = db.session.get(Event, params.event_id)
    seen = set(params.guest_ids)
    seated = {table.id: {"name": table.name, "host": table.host.display_name if table.host
                         else "", "seats": table.seats, "used": 0, "guests": [], "others": 0}
              for table in event.tables}
    unseated = {"used": 0, "guests": [], "others": 0}
    for invitation, companions in sorted(_guests(event), key=lambda g: (
            g[0].inviter.display_name, g[0].customer.name_pinyin)):
        place = seated.get(invitation.table_id, unseated)
        place["used"] += 1 + companions
        if invitation.id in seen:
            place["guests"].append({"name": invitation.customer.name,
                                    "companions": companions,
                                    "marketer": invitation.inviter.display_name})
        else:
            place["others"] += 1
    tables = list(seated.values())
    return {**_header(event, params, _("Seating chart")), "tables": tables,
            "unseated": unseated, "seats": sum(t["seats"] for t in tables),
            "used": sum(t["used"] for t in tables)}


def build_seating(data):
    return render_pdf("print/seating_chart.html", data)


# --- 桌卡 --------------------------------------------------------------------------------------

def gather_table_cards(params):
    """One card per table: its number, label and host marketer."""
    event = db.session.get(Event, params.event_id)
    return {**_header(event, params, _("Table cards")), "size": params.choice,
            "cards": [{"number": _("Table %(n)s", n=table.number), "label": table.label,
                       "host": table.host.display_name if table.host else ""}
                      for table in event.tables]}


def build_table_cards(data):
    return render_pdf("print/table_cards.html", data)


# --- 接送名单 ----------------------------------------------------------------------------------

def gather_pickup(params):
    """The bus driver's list: the guests who need pickup, per pickup point in the order of its
    time, with how many get on (guests and companions) and whose customers they are (the
    marketer's name and phone); guests whose point is not chosen yet come last."""
    event = db.session.get(Event, params.event_id)
    seen = set(params.guest_ids)
    stops = {point.id: {"name": point.name, "time": f"{point.pickup_time:%H:%M}",
                        "guests": []} for point in event.pickup_points}
    undecided = {"name": _("Pickup point not chosen yet"), "time": "", "guests": []}
    for invitation, companions in _guests(event):
        if not invitation.needs_pickup or invitation.id not in seen:
            continue
        inviter = invitation.inviter
        stops.get(invitation.pickup_point_id, undecided)["guests"].append({
            "name": invitation.customer.name, "companions": companions,
            "phone": masked_phone(invitation.customer.phone),
            "marketer": inviter.display_name, "marketer_phone": national_phone(inviter.phone)})
    groups = [*stops.values(), *([undecided] if undecided["guests"] else [])]
    for group in groups:
        group["people"] = sum(1 + guest["companions"] for guest in group["guests"])
    return {**_header(event, params, _("Pickup list")), "groups": groups,
            "guests": sum(len(group["guests"]) for group in groups),
            "people": sum(group["people"] for group in groups)}


def build_pickup(data):
    return render_pdf("print/pickup_list.html", data)

"""Invitation cards (邀请函): the event, time, venue, the customer's name and table, and a QR
code of the invitation's token, which the check-in screen scans. A6 one per page, or four per
A4 page."""
from dataclasses import dataclass
from datetime import datetime

import segno
from sqlalchemy import select

from extensions import db
from formatting import local_dt
from models.events import Event, Invitation
from models.settings import get_setting
from reports import render_pdf

LAYOUTS = ("a4", "a6")


@dataclass(frozen=True)
class Params:
    event_id: int
    invitation_ids: tuple
    layout: str
    printed_by: str
    printed_at: datetime


def qr_svg(token):
    """The QR code of a token as inline SVG (scanned at the door)."""
    return segno.make(token, error="m", micro=False).svg_inline(scale=4, border=2)


def gather(params):
    """Plain data for the cards, in the order asked."""
    event = db.session.get(Event, params.event_id)
    rows = {i.id: i for i in db.session.scalars(select(Invitation).where(
        Invitation.id.in_(params.invitation_ids), Invitation.event_id == event.id))}
    cards = [{"name": rows[i].customer.name, "table": rows[i].table.name if rows[i].table
              else "", "companions": rows[i].companions, "qr": qr_svg(rows[i].token),
              "inviter": rows[i].inviter.display_name}
             for i in params.invitation_ids if i in rows]
    return {"company": get_setting("general.company_name"), "title": event.title,
            "starts": local_dt(event.starts_at, "%Y-%m-%d %H:%M"),
            "ends": local_dt(event.ends_at, "%H:%M"), "venue": event.venue,
            "address": event.address, "lecturer": event.lecturer, "cards": cards,
            "layout": params.layout, "printed_by": params.printed_by,
            "printed_at": params.printed_at}


def build(data):
    return render_pdf("print/invitation_cards.html", data)

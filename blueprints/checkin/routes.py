"""The door: find or scan, check in once, seat, register walk-ins, the live board and room.

The door screen is one page per event that keeps working on a bad network: its script
(static/js/door/, ES modules) keeps the guest list (roster) on the tablet and searches it there,
queues every write with its one-time token and sends it through `replay`; refused queued writes
are listed as conflicts. A service worker (`service_worker`, scope /checkin/) keeps the page and
its files available offline. Without JavaScript the forms post to `scan` and `check_in`, which
answer with whole pages.
"""
import json
from pathlib import Path

from flask import Blueprint, current_app, jsonify, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf.csrf import generate_csrf
from sqlalchemy import select

from blueprints.access import public, role_required
from blueprints.checkin.forms import (CheckInForm, DoorWriteForm, KnownWalkInForm, ScanForm,
                                      WalkInForm)
from blueprints.forms import BaseForm, error_text
from extensions import db
from formatting import local_dt
from models import checkin as ci, customers as c, door, gifts
from models.orders import SELLER_ROLES
from models.accounts import User
from models.base import NotFound, OperationError, commit_keeping_loaded
from models.events import EventTable, Invitation

bp = Blueprint("checkin", __name__, url_prefix="/checkin")
DOOR = ci.DOOR_ROLES


def _fragment(name, **context):
    """The htmx fragment for htmx requests, else the whole screen around it."""
    if request.headers.get("HX-Request"):
        return render_template(f"checkin/_{name}.html", **context)
    return _screen(context.pop("event"), fragment=name, **context)


def _screen(event, *, fragment=None, **context):
    """The door screen, with what its script needs in data- attributes (no inline script)."""
    urls = {"roster": url_for("checkin.roster", event_id=event.id),
            "replay": url_for("checkin.replay", event_id=event.id),
            "conflicts": url_for("checkin.conflicts", event_id=event.id),
            "worker": url_for("checkin.service_worker"),
            "scope": url_for("checkin.index"),
            "walk_in": url_for("checkin.walk_in", event_id=event.id),
            "deal": url_for("orders.new", customer_id=0, event_id=event.id)
            if current_user.has_role(*SELLER_ROLES) else ""}
    return render_template("checkin/screen.html", event=event, scan_form=ScanForm(),
                           fragment=fragment, door_urls=urls, door_strings=_door_strings(),
                           **context)


def _door_strings():
    """The door script's words, translated here; {name}-style slots are filled in by it."""
    return {
        "checked_in": _("Checked in"),
        "with_companions": _("with %(n)s companions", n="{n}"),
        "go_to": _("Please go to %(table)s", table="{table}"),
        "no_table": _("No table assigned"),
        "no_table_yet": _("No table yet"),
        "invited_by": _("invited by %(name)s", name="{name}"),
        "already": _("Already checked in at %(time)s by %(who)s.", time="{time}", who="{who}"),
        "checked_in_at": _("Checked in at %(time)s by %(who)s.", time="{time}", who="{who}"),
        "expected": _("%(n)s companions expected", n="{n}"),
        "no_match": _("Nobody invited to this event matches “%(text)s”.", text="{text}"),
        "register_walk_in": _("Register as a walk-in"),
        "give_gift": _("Give the gift: %(gift)s × %(n)s", gift="{gift}", n="{n}"),
        "gift_given": _("Gift given: %(gift)s × %(n)s", gift="{gift}", n="{n}"),
        "gift_left": _("%(gift)s left: %(n)s", gift="{gift}", n="{n}"),
        "running_low": _("running low"),
        "online": _("Online"),
        "offline": _("Offline: working from this tablet's list of %(n)s guests",
                     n="{n}"),
        "no_list": _("Offline, and this tablet has no guest list of this event yet."),
        "pending": _("%(n)s waiting to be sent", n="{n}"),
        "all_sent": _("Everything is sent."),
        "sending": _("Sending…"),
        "retry_in": _("No answer; trying again in %(s)s s", s="{s}"),
        "waiting_network": _("Waiting for the network"),
        "sign_in": _("Signed out: sign in again in another tab; the queue stays on this "
                     "tablet."),
        "queued_check_in": _("Checked in on this tablet. It is sent when the network is back."),
        "queued_gift": _("Gift noted on this tablet. It is sent when the network is back."),
        "unknown_card": _("This card is not in this tablet's list: the check-in waits for the "
                          "network, and the server checks the card."),
        "closed": _("Check-in is closed for this event. This tablet's guest list was cleared."),
        "refused": _("Not written: %(message)s", message="{message}"),
        "check_in": _("Check-in"),
        "gift": _("Attendance gift"),
        "no_conflicts": _("Nothing to sort out."),
        "conflict_line": _("%(time)s · %(kind)s · %(reason)s", time="{time}", kind="{kind}",
                           reason="{reason}"),
        "conflict_by": _("replayed by %(who)s %(device)s", who="{who}", device="{device}"),
    }


@bp.get("/")
@role_required(*DOOR)
def index():
    events = db.session.scalars(ci.door_events(current_user).order_by("starts_at")).all()
    return render_template("checkin/index.html", events=events)


@bp.get("/<int:event_id>")
@role_required(*DOOR)
def screen(event_id):
    return _screen(ci.get_door_event_or_404(event_id, current_user))


@bp.get("/sw.js")
@public
def service_worker():
    """The door's service worker. Served from /checkin/ so that its scope covers the door
    screens; it holds no data, so it needs no sign-in."""
    path = Path(current_app.static_folder) / "js" / "door-sw.js"
    response = current_app.response_class(path.read_bytes(), mimetype="text/javascript")
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.get("/<int:event_id>/roster")
@role_required(*DOOR)
def roster(event_id):
    """The guest list a door tablet caches (masked phones only), with a fresh CSRF token for
    the writes it has queued."""
    event = ci.get_door_event_or_404(event_id, current_user)
    body = {**door.roster(event), "csrf": generate_csrf(),
            "conflicts": [door.conflict_facts(x) for x in door.door_conflicts(event)]}
    # Chinese as UTF-8 rather than \u escapes: a third of the size on a venue's Wi-Fi.
    return current_app.response_class(json.dumps(body, ensure_ascii=False,
                                                 separators=(",", ":")),
                                      mimetype="application/json")


@bp.get("/<int:event_id>/conflicts")
@role_required(*DOOR)
def conflicts(event_id):
    """Queued writes the server refused, for every tablet at this door to show."""
    event = ci.get_door_event_or_404(event_id, current_user)
    return jsonify({"open": ci.is_door_open(event),
                    "conflicts": [door.conflict_facts(x) for x in door.door_conflicts(event)]})


@bp.post("/<int:event_id>/queue")
@role_required(*DOOR)
def replay(event_id):
    """One write of the door tablet's queue (sent at once, or replayed later): a check-in or
    the attendance gift. Answers JSON; the same token sent again gets the same answer."""
    form = DoorWriteForm()
    if not form.validate_on_submit():
        ci.get_door_event_or_404(event_id, current_user)
        return jsonify({"ok": False, "message": error_text(form)}), 422
    # The event, the guest, the gift rule and whether the token was used, in one query: the
    # tablets' busiest path.
    event, target, rule, used = door.door_event_and_guest(
        event_id, current_user, invitation_id=form.invitation_id.data, code=form.code.data,
        token=form.token.data)
    write = door.DoorWrite(
        kind=form.kind.data, token=form.token.data, invitation_id=form.invitation_id.data,
        code=form.code.data or "", companions=form.companions.data,
        table=db.session.get(EventTable, form.table_id.data) if form.table_id.data else None,
        override=form.override.data, queued=form.queued.data,
        queued_at=door.queued_at_from_ms(form.queued_ms.data), device=form.device.data or "",
        target=target, used=used)
    outcome = door.replay_door_write(event, write, actor=current_user)
    body = _outcome_facts(event, outcome, rule)
    db.session.commit()
    return jsonify(body), outcome.status if not outcome.ok else 200


def _outcome_facts(event, outcome, rule=...):
    """A DoorOutcome as plain data (read before the commit expires it). `rule`: the door's
    gift rule, when loaded already."""
    record = outcome.check_in
    state = gifts.door_state(event, None if outcome.fresh else outcome.customer_id, rule) \
        if outcome.customer_id else None
    return {
        "ok": outcome.ok, "message": outcome.message,
        "check_in": {**ci.summary(record), "at": local_dt(record.at, "%H:%M"),
                     "invitation_id": record.invitation_id} if record else None,
        "gift": door.gift_facts(state) if state else None,
        "conflict": door.conflict_facts(outcome.conflict) if outcome.conflict else None}


def _result(event, facts, *, already=False, status=200, gift=..., rule=...):
    if gift is ...:
        gift = gifts.door_state(event, facts["customer_id"], rule)
    return _fragment("result", event=event, record=facts, already=already, gift=gift,
                     gift_form=BaseForm() if gift else None), status


def _checked_in(event, record, rule=...):
    """After a check-in: commit and show it without reading again what the request has loaded
    (`rule`: the door's gift rule, if loaded already). SQLite's one write lock is let go before
    the gift line is read; on PostgreSQL the gift line is read in the same transaction (a second
    one would cost three more round trips)."""
    facts = ci.summary(record)
    gift = ... if db.engine.dialect.name == "sqlite" else \
        gifts.door_state(event, facts["customer_id"], rule)
    commit_keeping_loaded()
    return _result(event, facts, gift=gift, rule=rule)


def _refused(event, message, status):
    return _fragment("refused", event=event, message=message), status


@bp.post("/<int:event_id>/check-in")
@role_required(*DOOR)
def check_in(event_id):
    """One tap on a match card checks the guest in (idempotent on the form's token)."""
    event = ci.get_door_event_or_404(event_id, current_user)
    form = CheckInForm(event)
    if not form.validate_on_submit():
        return _refused(event, error_text(form), 422)
    invitation = db.session.scalar(select(Invitation).where(
        Invitation.id == int(form.invitation_id.data) if form.invitation_id.data.isdecimal()
        and len(form.invitation_id.data) < 10 else Invitation.id.is_(None),
        Invitation.event_id == event.id))
    try:
        if invitation is None:
            raise NotFound(_("This invitation card is not valid for this event."))
        record = door.check_in(event, invitation, actor=current_user, token=form.token.data,
                               companions=form.companions.data,
                               table=db.session.get(EventTable, form.table_id.data or 0),
                               override=form.override.data)
    except ci.AlreadyCheckedIn as exc:
        facts = ci.summary(exc.check_in)
        db.session.rollback()
        return _result(event, facts, already=True, status=409)
    except OperationError as exc:  # not attempt: the first check-in is read before the rollback
        db.session.rollback()      # expires it, and _checked_in commits keeping what is loaded
        return _refused(event, exc.message, exc.status)
    return _checked_in(event, record)


@bp.post("/<int:event_id>/scan")
@role_required(*DOOR)
def scan(event_id):
    """A scanner types the card's code and Enter: check in with no further tap. Anything that
    is not a card's code is a search."""
    form = ScanForm()
    if not form.validate_on_submit():
        return _refused(ci.get_door_event_or_404(event_id, current_user), error_text(form),
                        422)
    code = form.code.data
    event, card, gift_rule = door.door_event_and_card(event_id, current_user, code)
    if card is None:  # not a card of this event: what was typed is a search
        matches = ci.find_at_door(event, code)
        cards = [(m, ci.check_in_of(m), CheckInForm(event, formdata=None, invitation_id=m.id,
                                                    companions=m.companions)) for m in matches]
        return _fragment("matches", event=event, cards=cards, text=code)
    try:
        record = door.check_in(event, card, actor=current_user, token=form.token.data)
    except ci.AlreadyCheckedIn as exc:
        facts = ci.summary(exc.check_in)
        db.session.rollback()
        return _result(event, facts, already=True, status=409)
    except OperationError as exc:  # not attempt: the first check-in is read before the rollback
        db.session.rollback()      # expires it, and _checked_in commits keeping what is loaded
        return _refused(event, exc.message, exc.status)
    return _checked_in(event, record, gift_rule)


@bp.route("/<int:event_id>/walk-in", methods=["GET", "POST"])
@role_required(*DOOR)
def walk_in(event_id):
    """Register a guest without an invitation and check them in, in one step. The mobile comes
    first: a known one offers that customer, checked in with one tap (walk_in_known). What was
    typed in the door's search (`q`) is carried into the form."""
    event = ci.get_door_event_or_404(event_id, current_user)
    form = WalkInForm(event)
    if not form.is_submitted():
        _carry_search(form, request.args.get("q", ""))
        form.phone.data = request.args.get("phone", form.phone.data or "")[:20]
        return _walk_in_page(event, form, c.find_by_phone(form.phone.data or ""))
    if not form.validate():
        return _walk_in_page(event, form, c.find_by_phone(form.phone.data or ""), 422)
    try:
        record = door.register_walk_in(
            event, name=form.name.data, phone=form.phone.data, actor=current_user,
            token=form.token.data, owner=db.session.get(User, form.owner_id.data or 0),
            referrer_phone=form.referrer_phone.data, companions=form.companions.data or 0,
            table=db.session.get(EventTable, form.table_id.data or 0))
    except c.DuplicateCustomer as exc:
        db.session.rollback()
        return _walk_in_page(event, form, exc.existing, 409)
    except ci.AlreadyCheckedIn as exc:
        facts = ci.summary(exc.check_in)
        db.session.rollback()
        return _screen(event, fragment="result", record=facts, already=True), 409
    except OperationError as exc:  # not attempt: the first check-in is read before the rollback
        db.session.rollback()      # expires it (a walk-in checked in already)
        form.add_error(exc)
        return _walk_in_page(event, form, None, exc.status)
    return _walked_in(event, record)


@bp.post("/<int:event_id>/walk-in/known")
@role_required(*DOOR)
def walk_in_known(event_id):
    """The one tap that checks in a customer known by the mobile typed, as a walk-in of their
    own marketer (a customer of the public pool stays in the pool)."""
    event = ci.get_door_event_or_404(event_id, current_user)
    form = KnownWalkInForm()
    known = c.find_by_phone(form.phone.data or "") if form.validate_on_submit() else None
    if known is None or known.id != form.customer_id.data:
        form.form_errors.append(_("No customer has this mobile any more: register the guest "
                                  "with the form."))
        return _walk_in_page(event, WalkInForm(event, formdata=None), None, 422,
                             known_form=form)
    try:
        record = door.register_walk_in(event, name=known.name, phone=known.phone,
                                       actor=current_user, token=form.token.data,
                                       companions=form.companions.data or 0, existing=known)
    except ci.AlreadyCheckedIn as exc:
        facts = ci.summary(exc.check_in)
        db.session.rollback()
        return _screen(event, fragment="result", record=facts, already=True), 409
    except OperationError as exc:  # as in walk_in
        db.session.rollback()
        form.add_error(exc)
        return _walk_in_page(event, WalkInForm(event, formdata=None), known, exc.status,
                             known_form=form)
    return _walked_in(event, record)


def _carry_search(form, text):
    """What the door's search typed, into the walk-in form: digits are the mobile, else the
    name."""
    text = text.strip()[:40]
    if text.replace(" ", "").replace("-", "").lstrip("+").isdecimal():
        form.phone.data = text[:20]
    elif text:
        form.name.data = text


def _walk_in_page(event, form, known, status=200, known_form=None):
    """The walk-in form; above it, when the mobile is a customer's, the one tap for them."""
    if known is not None and known_form is None:
        known_form = KnownWalkInForm(formdata=None, customer_id=known.id, phone=known.phone,
                                     companions=form.companions.data or 0)
    return render_template("checkin/walk_in.html", event=event, form=form, known=known,
                           known_form=known_form), status


def _walked_in(event, record):
    """The door screen with the walk-in's check-in, their attendance gift, the deal for a seller
    and, for a customer of the public pool, a word that a marketer may claim them."""
    facts = ci.summary(record)
    customer = record.invitation.customer
    pooled = customer.status == "pool"
    gift = gifts.door_state(event, customer.id)
    db.session.commit()
    return _screen(event, fragment="result", record=facts, already=False, gift=gift,
                   gift_form=BaseForm() if gift else None, walk_in=True, pooled=pooled,
                   note=_("%(name)s is in the public pool: a marketer may claim them.",
                          name=facts["name"]) if pooled else "")


@bp.get("/<int:event_id>/board")
@role_required(*DOOR, "dept_head")
def live_board(event_id):
    """Arrivals as they happen (the page refreshes its numbers every few seconds)."""
    from models.events import get_event_or_404
    event = get_event_or_404(event_id, current_user) if not current_user.has_role(*DOOR) \
        else ci.get_door_event_or_404(event_id, current_user)
    template = "checkin/_board.html" if request.headers.get("HX-Request") \
        else "checkin/board.html"
    return render_template(template, event=event, board=ci.board(event, current_user))


@bp.get("/<int:event_id>/room")
@role_required(*DOOR)
def room(event_id):
    event = ci.get_door_event_or_404(event_id, current_user)
    return render_template("checkin/room.html", event=event, tables=ci.room(event))

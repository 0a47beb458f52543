"""The door: find or scan, check in once, seat, register walk-ins, the live board and room."""
from flask import Blueprint, render_template, request
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from blueprints.access import role_required
from blueprints.checkin.forms import CheckInForm, ScanForm, WalkInForm
from blueprints.forms import BaseForm
from extensions import db
from models import checkin as ci, customers as c, gifts
from models.accounts import User
from models.base import NotFound, OperationError
from models.events import EventTable, Invitation

bp = Blueprint("checkin", __name__, url_prefix="/checkin")
DOOR = ci.DOOR_ROLES


def _fragment(name, **context):
    """The htmx fragment for htmx requests, else the whole screen around it."""
    if request.headers.get("HX-Request"):
        return render_template(f"checkin/_{name}.html", **context)
    return render_template("checkin/screen.html", scan_form=ScanForm(), fragment=name,
                           **context)


@bp.get("/")
@role_required(*DOOR)
def index():
    events = db.session.scalars(ci.door_events(current_user).order_by("starts_at")).all()
    return render_template("checkin/index.html", events=events)


@bp.get("/<int:event_id>")
@role_required(*DOOR)
def screen(event_id):
    event = ci.get_door_event_or_404(event_id, current_user)
    return render_template("checkin/screen.html", event=event, scan_form=ScanForm(),
                           fragment=None)


@bp.get("/<int:event_id>/find")
@role_required(*DOOR)
def find(event_id):
    """Matches as the staff types (htmx): invitations of this event only."""
    event = ci.get_door_event_or_404(event_id, current_user)
    text = request.args.get("code", "")[:60]
    if not text.strip():
        return "", 204  # nothing typed: leave the screen as it is
    matches = ci.find_at_door(event, text)
    cards = [(m, ci.check_in_of(m), CheckInForm(event, formdata=None, invitation_id=m.id,
                                                companions=m.companions)) for m in matches]
    return _fragment("matches", event=event, cards=cards, text=text)


def _result(event, facts, *, already=False, status=200):
    return _fragment("result", event=event, record=facts, already=already,
                     gift=gifts.door_state(event, facts["customer_id"]),
                     gift_form=BaseForm()), status


def _refused(event, message, status):
    return _fragment("refused", event=event, message=message), status


@bp.post("/<int:event_id>/check-in")
@role_required(*DOOR)
def check_in(event_id):
    """One tap on a match card checks the guest in (idempotent on the form's token)."""
    event = ci.get_door_event_or_404(event_id, current_user)
    form = CheckInForm(event)
    if not form.validate_on_submit():
        return _refused(event, " ".join(str(e) for errs in form.errors.values() for e in errs),
                        422)
    invitation = db.session.scalar(select(Invitation).where(
        Invitation.id == int(form.invitation_id.data) if form.invitation_id.data.isdecimal()
        and len(form.invitation_id.data) < 10 else Invitation.id.is_(None),
        Invitation.event_id == event.id))
    try:
        if invitation is None:
            raise NotFound(_("This invitation card is not valid for this event."))
        record = ci.check_in(event, invitation, actor=current_user, token=form.token.data,
                             companions=form.companions.data,
                             table=db.session.get(EventTable, form.table_id.data or 0),
                             override=form.override.data)
    except ci.AlreadyCheckedIn as exc:
        facts = ci.summary(exc.check_in)
        db.session.rollback()
        return _result(event, facts, already=True, status=409)
    except OperationError as exc:
        db.session.rollback()
        return _refused(event, exc.message, exc.status)
    facts = ci.summary(record)
    db.session.commit()
    return _result(event, facts)


@bp.post("/<int:event_id>/scan")
@role_required(*DOOR)
def scan(event_id):
    """A scanner types the card's code and Enter: check in with no further tap. Anything that
    is not a card's code is a search."""
    event = ci.get_door_event_or_404(event_id, current_user)
    form = ScanForm()
    if not form.validate_on_submit():
        return _refused(event, " ".join(str(e) for errs in form.errors.values() for e in errs),
                        422)
    code = form.code.data
    try:
        record = ci.check_in_by_card(event, code, actor=current_user, token=form.token.data)
    except ci.AlreadyCheckedIn as exc:
        facts = ci.summary(exc.check_in)
        db.session.rollback()
        return _result(event, facts, already=True, status=409)
    except NotFound:  # not a card of this event: what was typed is a search
        db.session.rollback()
        matches = ci.find_at_door(event, code)
        cards = [(m, ci.check_in_of(m), CheckInForm(event, formdata=None, invitation_id=m.id,
                                                    companions=m.companions)) for m in matches]
        return _fragment("matches", event=event, cards=cards, text=code)
    except OperationError as exc:
        db.session.rollback()
        return _refused(event, exc.message, exc.status)
    facts = ci.summary(record)
    db.session.commit()
    return _result(event, facts)


@bp.route("/<int:event_id>/walk-in", methods=["GET", "POST"])
@role_required(*DOOR)
def walk_in(event_id):
    """Register a guest without an invitation and check them in, in one step."""
    event = ci.get_door_event_or_404(event_id, current_user)
    form = WalkInForm(event)
    if not form.validate_on_submit():
        return render_template("checkin/walk_in.html", event=event, form=form), \
            422 if form.is_submitted() else 200
    existing = None
    if form.existing_id.data:
        existing = c.find_by_phone(form.phone.data)
        if existing is None or str(existing.id) != form.existing_id.data:
            existing = None
    try:
        record = ci.register_walk_in(
            event, name=form.name.data, phone=form.phone.data, actor=current_user,
            token=form.token.data, owner=db.session.get(User, form.owner_id.data or 0),
            referrer_phone=form.referrer_phone.data, companions=form.companions.data or 0,
            table=db.session.get(EventTable, form.table_id.data or 0), existing=existing)
    except c.DuplicateCustomer as exc:
        db.session.rollback()
        return render_template("checkin/walk_in.html", event=event, form=form,
                               offer=exc.existing), 409
    except ci.AlreadyCheckedIn as exc:
        facts = ci.summary(exc.check_in)
        db.session.rollback()
        return render_template("checkin/screen.html", event=event, scan_form=ScanForm(),
                               fragment="result", record=facts, already=True), 409
    except OperationError as exc:
        db.session.rollback()
        form.add_error(exc)
        return render_template("checkin/walk_in.html", event=event, form=form), exc.status
    facts = ci.summary(record)
    db.session.commit()
    return render_template("checkin/screen.html", event=event, scan_form=ScanForm(),
                           fragment="result", record=facts, already=False)


@bp.get("/<int:event_id>/board")
@role_required(*DOOR, "dept_head")
def live_board(event_id):
    """Arrivals as they happen (the page refreshes its numbers every few seconds)."""
    from models.events import get_event_or_404
    event = get_event_or_404(event_id, current_user) if not current_user.has_role(*DOOR) \
        else ci.get_door_event_or_404(event_id, current_user)
    template = "checkin/_board.html" if request.headers.get("HX-Request") \
        else "checkin/board.html"
    return render_template(template, event=event, board=ci.board(event))


@bp.get("/<int:event_id>/room")
@role_required(*DOOR)
def room(event_id):
    event = ci.get_door_event_or_404(event_id, current_user)
    return render_template("checkin/room.html", event=event, tables=ci.room(event))

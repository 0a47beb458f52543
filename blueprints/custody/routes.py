"""Custody at the counter: find the customer, see what is held and what may be collected, hand
it over with a slip; statements, near-expiry goods, the report per marketer."""
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from blueprints.access import role_required
from blueprints.files import file_name, send_download
from blueprints.custody.forms import PickupForm, ReasonForm
from blueprints.forms import BaseForm, attempt, error_text, id_arg, refusal_status
from extensions import db
from formatting import local_day
from models import custody as cu, events as ev
from models.base import NotFound, new_token, utcnow
from models.scoping import visible_departments
from reports import custody_papers

bp = Blueprint("custody", __name__, url_prefix="/custody")

VIEW = ("admin", "manager", "warehouse", "finance", "dept_head", "marketer", "event_staff")
HAND_OVER = cu.PICKUP_ROLES


@bp.get("/")
@role_required(*VIEW)
def index():
    text = request.args.get("q", "").strip()[:40]
    holders = cu.find_holders(current_user, text) if text else []
    if request.headers.get("HX-Request"):
        return render_template("custody/_holders.html", holders=holders, text=text)
    return render_template("custody/index.html", holders=holders, text=text)


@bp.get("/customers/<int:customer_id>")
@role_required(*VIEW)
def customer(customer_id):
    person = cu.get_holder_or_404(customer_id, current_user)
    return _customer_page(person)


def _customer_page(person, status=200, error=None, entered=None):
    events = db.session.scalars(ev.visible_events(current_user).where(
        ev.Event.status.in_(("open", "in_progress"))).order_by(ev.Event.starts_at)).all() \
        if current_user.has_role("event_staff", "manager") else []
    return render_template("custody/customer.html", customer=person,
                           rows=cu.holdings(person), by_product=cu.balances_by_product(person),
                           entries=cu.entries_of(person)[-50:], form=BaseForm(),
                           token=new_token(), error=error, entered=entered or {},
                           events=events), status


@bp.post("/customers/<int:customer_id>/pickups")
@role_required(*HAND_OVER)
def pick_up(customer_id):
    person = cu.get_holder_or_404(customer_id, current_user)
    form = PickupForm()
    if not form.validate_on_submit():
        return _customer_page(person, refusal_status(form), error_text(form),
                              form.entered())
    event = ev.get_event_or_404(form.event_id.data, current_user) if form.event_id.data \
        else None
    with attempt() as tried:
        pickup = cu.pick_up(person, {**form.lines.data, **form.redeemed.data},
                            actor=current_user, token=form.token.data,
                            collected_by=form.collected_by.data or "",
                            relation=form.relation.data or "", event=event,
                            release_reason=form.release_reason.data or "",
                            opening=form.opening.data)
    if tried.refusal:
        return _customer_page(person, tried.status, tried.refusal.message, form.entered())
    flash(_("Handed over: slip %(number)s.", number=pickup.number), "success")
    return redirect(url_for("custody.pickup", pickup_id=pickup.id, print=1))


@bp.get("/pickups/<int:pickup_id>")
@role_required(*VIEW)
def pickup(pickup_id):
    record = _pickup_or_404(pickup_id)
    lines = db.session.scalars(select(cu.CustodyEntry).where(
        cu.CustodyEntry.pickup_id == record.id)).all()
    return render_template("custody/pickup.html", pickup=record, lines=lines,
                           remaining=cu.balances_by_product(record.customer),
                           print_now=request.args.get("print") == "1")


def _pickup_or_404(pickup_id):
    record = db.session.get(cu.CustodyPickup, pickup_id) if pickup_id < 2**31 else None
    if record is None:
        raise NotFound(_("Not found, or not yours to see."))
    cu.get_holder_or_404(record.customer_id, current_user)  # the customer must be in reach
    return record


@bp.get("/pickups/<int:pickup_id>/slip.pdf")
@role_required(*VIEW)
def slip(pickup_id):
    record = _pickup_or_404(pickup_id)
    pdf = custody_papers.build_slip(custody_papers.gather_slip(
        record, printed_by=current_user.display_name))
    return send_download(pdf, file_name(_("Pickup slip"), record.number, ext=".pdf"))


@bp.get("/customers/<int:customer_id>/statement.pdf")
@role_required(*VIEW)
def statement(customer_id):
    person = cu.get_holder_or_404(customer_id, current_user)
    pdf = custody_papers.build_statement(custody_papers.gather_statement(
        person, printed_by=current_user.display_name))
    return send_download(pdf, file_name(_("Custody statement"), person.name, ext=".pdf"))


@bp.get("/expiring")
@role_required("admin", "manager", "warehouse", "finance")
def expiring():
    today = local_day(utcnow())
    return render_template("custody/expiring.html", rows=cu.expiring_held(today), today=today,
                           stale=cu.not_collected(today))


@bp.get("/report")
@role_required("admin", "manager", "warehouse", "finance", "dept_head")
def report():
    department_id = id_arg("department_id")
    departments = db.session.scalars(visible_departments(current_user)).all()
    return render_template("custody/report.html",
                           rows=cu.report_by_marketer(department_id, user=current_user),
                           departments=departments, department_id=department_id)


@bp.post("/entries/<int:entry_id>/reverse")
@role_required("warehouse", "manager")
def reverse(entry_id):
    entry = db.session.get(cu.CustodyEntry, entry_id) if entry_id < 2**31 else None
    if entry is None:
        raise NotFound(_("Not found, or not yours to see."))
    form = ReasonForm()
    if not form.validate_on_submit():
        flash(error_text(form), "danger")
    else:
        with attempt(flash=True) as tried:
            cu.reverse_entry(entry, reason=form.reason.data or "", actor=current_user)
        if not tried.refusal:
            flash(_("Pickup corrected: the goods are held again."), "success")
    return redirect(url_for("custody.customer", customer_id=entry.customer_id))


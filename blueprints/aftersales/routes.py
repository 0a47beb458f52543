"""After-sales tickets (售后): the list (status, kind, responsible, overdue), a new ticket from the
customer's page (登记售后), the ticket's page — its notes, hand-over, start, close with the
outcome, reopen. A ticket of a customer out of scope is a 404 (models/aftersales.py)."""
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from blueprints.access import role_required
from blueprints.aftersales.forms import (AssignForm, CloseForm, FilterForm, NoteForm,
                                         ReopenForm, StartForm, TicketForm)
from blueprints.forms import attempt, id_arg, paginate, refusal_status
from extensions import db
from formatting import local_day
from models import aftersales as a, customers as c
from models.accounts import User
from models.base import OperationError, utcnow
from models.scoping import visible_users

bp = Blueprint("aftersales", __name__, url_prefix="/aftersales")

#: Who works with tickets: the customer archive's people (an admin looks, as on the customer
#: page); a ticket is assigned to a marketer, head or manager (models.aftersales.WORKER_ROLES).
ROLES = ("admin", "manager", "dept_head", "marketer")
PER_PAGE = 30


def _today():
    return local_day(utcnow())


@bp.get("/")
@role_required(*ROLES)
def index():
    people = [u for u in db.session.scalars(visible_users(current_user).where(
        User.is_active.is_(True)).order_by(User.display_name)) if u.has_role(*a.WORKER_ROLES)]
    form = FilterForm(current_user, people, request.args)
    form.validate()

    def ok(field):
        return field.data if not field.errors else None
    today = _today()
    status = ok(form.status)
    query = a.find_tickets(current_user, today=today,
                           status="unresolved" if status is None else status,
                           kind=ok(form.kind), assignee_id=ok(form.assignee_id),
                           overdue=bool(form.overdue.data))
    return render_template("aftersales/index.html", form=form, page=paginate(query, PER_PAGE),
                           today=today)


@bp.route("/new/<int:customer_id>", methods=["GET", "POST"])
@role_required(*ROLES)
def new(customer_id):
    customer = c.get_customer_or_404(customer_id, current_user)
    form = TicketForm(customer, current_user)
    if request.method == "GET":
        form.kind.data = "repair"
        form.assignee_id.data = a.default_assignee(customer, current_user).id
        form.order_id.data = id_arg("order_id") or 0
    status = 200
    if request.method == "POST":
        status = 422
        if form.validate_on_submit():
            with attempt(form) as tried:
                ticket = a.open_ticket(
                    customer, kind=form.kind.data, description=form.description.data,
                    product_id=form.product_id.data, order_id=form.order_id.data,
                    assignee_id=form.assignee_id.data, actor=current_user,
                    token=form.token.data)
            if not tried.refusal:
                flash(_("After-sales ticket %(number)s registered: due on %(day)s.",
                        number=ticket.number, day=ticket.due_date.isoformat()), "success")
                return redirect(url_for("aftersales.show", ticket_id=ticket.id))
            status = tried.status
        else:
            status = refusal_status(form)
    return render_template("aftersales/new.html", form=form, customer=customer,
                           open_tickets=a.open_tickets_of(customer),
                           days={kind: a.due_date_for(kind, _today()) for kind in a.KINDS}), \
        status


def _ticket(ticket_id):
    return a.get_ticket_or_404(ticket_id, current_user)


def _ticket_page(ticket, status=200, **forms):
    """The ticket's page, with any form given (a refused one, with its errors) in place of a
    fresh one."""
    try:
        customer_visible = c.get_customer_or_404(ticket.customer_id, current_user) is not None
    except OperationError:  # assigned to them, but not their customer: no link to the page
        customer_visible = False
    context = {
        "note_form": NoteForm(prefix="note", formdata=None),
        "assign_form": AssignForm(current_user, prefix="assign", formdata=None),
        "start_form": StartForm(prefix="start", formdata=None),
        "close_form": CloseForm(prefix="close", formdata=None),
        "reopen_form": ReopenForm(prefix="reopen", formdata=None), **forms}
    if "assign_form" not in forms:
        context["assign_form"].assignee_id.data = ticket.assignee_id
    return render_template("aftersales/show.html", ticket=ticket, notes=a.notes_of(ticket),
                           today=_today(), may_work=a.may_work(ticket, current_user),
                           customer_visible=customer_visible, **context), status


@bp.get("/<int:ticket_id>")
@role_required(*ROLES)
def show(ticket_id):
    return _ticket_page(_ticket(ticket_id))


def _act(ticket_id, form_class, prefix, operation, success, *form_args):
    """Post one of the ticket page's forms: run `operation(ticket, form)`; back to the page
    with `success` flashed, or the page with the refusal next to the form."""
    ticket = _ticket(ticket_id)
    form = form_class(*form_args, prefix=prefix)
    if not form.validate_on_submit():
        return _ticket_page(ticket, refusal_status(form), **{f"{prefix}_form": form})
    with attempt(form) as tried:
        operation(ticket, form)
    if tried.refusal:
        return _ticket_page(_ticket(ticket_id), tried.status, **{f"{prefix}_form": form})
    flash(success, "success")
    return redirect(url_for("aftersales.show", ticket_id=ticket_id))


@bp.post("/<int:ticket_id>/notes")
@role_required(*ROLES)
def add_note(ticket_id):
    return _act(ticket_id, NoteForm, "note", lambda ticket, form: a.add_note(
        ticket, text=form.text.data, actor=current_user, token=form.token.data),
        _("Note added."))


@bp.post("/<int:ticket_id>/assign")
@role_required(*ROLES)
def assign(ticket_id):
    return _act(ticket_id, AssignForm, "assign", lambda ticket, form: a.assign_ticket(
        ticket, form.assignee_id.data, note=form.note.data, actor=current_user,
        token=form.token.data), _("Ticket handed over."), current_user)


@bp.post("/<int:ticket_id>/start")
@role_required(*ROLES)
def start(ticket_id):
    return _act(ticket_id, StartForm, "start", lambda ticket, form: a.change_ticket_status(
        ticket, "in_progress", note=form.note.data, actor=current_user, token=form.token.data),
        _("Work on the ticket has started."))


@bp.post("/<int:ticket_id>/close")
@role_required(*ROLES)
def close(ticket_id):
    return _act(ticket_id, CloseForm, "close", lambda ticket, form: a.change_ticket_status(
        ticket, "closed", note=form.outcome.data, actor=current_user, token=form.token.data),
        _("Ticket closed."))


@bp.post("/<int:ticket_id>/reopen")
@role_required(*ROLES)
def reopen(ticket_id):
    return _act(ticket_id, ReopenForm, "reopen", lambda ticket, form: a.change_ticket_status(
        ticket, "open", note=form.reason.data, actor=current_user, token=form.token.data),
        _("Ticket reopened."))

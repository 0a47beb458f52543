"""Events and invitations: plan, cost, seat, invite (one or many), confirm, print cards."""
from flask import (Blueprint, abort, flash, redirect, render_template, request,
                   url_for)
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from blueprints.access import role_required, safe_next
from blueprints.customers.forms import IntentForm
from blueprints.events.forms import (CostForm, EventForm, EventStatusForm,
                                     InvitationStatusForm, InviteForm, MoveGuestForm, PickupForm,
                                     PickupPointForm, StaffForm, TableForm)
from blueprints.files import file_name, send_download
from blueprints.forms import (BaseForm, attempt, error_text, id_arg, ids_from, paginate,
                             refusal_status, run_operation)
from extensions import db
from models import customers as c, door, events as ev, seating as st
from models.accounts import Department, User
from models.base import InvalidInput, NotFound, utcnow
from reports import event_day_papers as papers, invitation_cards, invitation_image

bp = Blueprint("events", __name__, url_prefix="/events")

OFFICE = ("admin", "manager", "dept_head", "marketer")
PLANNERS = ev.PLANNER_ROLES


def _status(form):
    return 422 if form.is_submitted() else 200


def _back_to(event, anchor=""):
    return redirect(url_for("events.show", event_id=event.id) + anchor)


@bp.get("/")
@role_required(*OFFICE, "event_staff")
def index():
    status = request.args.get("status", "")
    query = ev.visible_events(current_user).order_by(ev.Event.starts_at.desc())
    if status in ev.STATUSES:
        query = query.where(ev.Event.status == status)
    page = paginate(query, 30)
    return render_template("events/index.html", page=page, status=status)


@bp.route("/new", methods=["GET", "POST"])
@role_required(*PLANNERS)
def new():
    form = EventForm()
    if not form.validate_on_submit():
        return render_template("events/form.html", form=form, event=None), _status(form)
    with attempt(form) as tried:
        starts_at, ends_at = form.times()
        event = ev.create_event(
            title=form.title.data, kind=form.kind.data, venue=form.venue.data,
            address=form.address.data, starts_at=starts_at, ends_at=ends_at,
            capacity=form.capacity.data, lecturer=form.lecturer.data,
            featured=form.featured.data,
            department=db.session.get(Department, form.department_id.data or 0),
            actor=current_user)
    if tried.refusal:
        return render_template("events/form.html", form=form, event=None), tried.status
    flash(_("Event %(title)s planned.", title=event.title), "success")
    return _back_to(event)


@bp.route("/<int:event_id>/edit", methods=["GET", "POST"])
@role_required(*PLANNERS)
def edit(event_id):
    event = ev.get_event_or_404(event_id, current_user)
    form = EventForm(obj=event)
    if request.method == "GET":
        form.fill_from(event)
    if not form.validate_on_submit():
        return render_template("events/form.html", form=form, event=event), _status(form)
    with attempt(form) as tried:
        starts_at, ends_at = form.times()
        ev.update_event(event, title=form.title.data, kind=form.kind.data,
                        venue=form.venue.data, address=form.address.data, starts_at=starts_at,
                        ends_at=ends_at, capacity=form.capacity.data,
                        lecturer=form.lecturer.data, featured=form.featured.data,
                        department=db.session.get(Department, form.department_id.data or 0),
                        actor=current_user)
    if tried.refusal:
        return render_template("events/form.html", form=form, event=event), tried.status
    flash(_("Event %(title)s saved.", title=event.title), "success")
    return _back_to(event)


def _event_page(event, status=200, **forms):
    marketers = c.active_marketers()
    staff_people = db.session.scalars(select(User).where(
        User.is_active, User.role_rows.any(role="event_staff")).order_by(User.display_name)).all()
    invitations = ev.visible_invitations(current_user, event)
    people = ev.confirmed_people(event)
    context = {
        "event": event, "action_form": BaseForm(),
        "cost_form": forms.get("cost_form") or CostForm(prefix="cost"),
        "table_form": forms.get("table_form") or TableForm(marketers, prefix="table"),
        "pickup_point_form": forms.get("pickup_point_form") or PickupPointForm(prefix="pickup"),
        "staff_form": forms.get("staff_form") or StaffForm(
            staff_people, prefix="staff", data={"staff": [u.id for u in event.staff]}),
        "counts": ev.status_counts(invitations),
        "by_inviter": ev.counts_by_inviter(invitations),
        "confirmed_people": people, "seats": sum(t.seats for t in event.tables),
        "transitions": [s for s in ev.STATUSES if s in ev.TRANSITIONS[event.status]],
        "planner": current_user.has_role(*PLANNERS),
        "door_conflicts": door.door_conflicts(event, current_user),
    }
    return render_template("events/show.html", **context), status


@bp.get("/<int:event_id>")
@role_required(*OFFICE, "event_staff")
def show(event_id):
    return _event_page(ev.get_event_or_404(event_id, current_user))


@bp.post("/<int:event_id>/status")
@role_required(*PLANNERS)
def status(event_id):
    event = ev.get_event_or_404(event_id, current_user)
    form = EventStatusForm()
    if not form.validate_on_submit():
        if "csrf_token" in form.errors:
            abort(400)
        flash(error_text(form), "danger")
        return _back_to(event)
    run_operation(lambda: ev.change_event_status(event, form.to.data, actor=current_user),
                  lambda _result: _("The event is now: %(status)s.",
                                    status=ev.STATUSES[event.status]))
    return _back_to(event)


@bp.post("/<int:event_id>/costs")
@role_required(*PLANNERS)
def add_cost(event_id):
    event = ev.get_event_or_404(event_id, current_user)
    form = CostForm(prefix="cost")
    if not form.validate_on_submit():
        return _event_page(event, 422, cost_form=form)
    with attempt(form) as tried:
        ev.add_cost(event, kind=form.kind.data, amount_fen=form.amount_fen(),
                    note=form.note.data, actor=current_user)
    if tried.refusal:
        return _event_page(event, tried.status, cost_form=form)
    flash(_("Cost added."), "success")
    return _back_to(event, "#costs")


def _event_row_or_404(event_id, model, row_id):
    """(event, row): a row of `model` (a cost, a pickup point) of an event the user may see,
    removed by a one-button form (its CSRF token checked); else a 404."""
    event = ev.get_event_or_404(event_id, current_user)
    row = db.session.get(model, row_id)
    if row is None or row.event_id != event.id or not BaseForm().validate_on_submit():
        abort(404)
    return event, row


@bp.post("/<int:event_id>/costs/<int:cost_id>/remove")
@role_required(*PLANNERS)
def remove_cost(event_id, cost_id):
    event, cost = _event_row_or_404(event_id, ev.EventCost, cost_id)
    run_operation(lambda: ev.remove_cost(cost, actor=current_user), _("Cost removed."))
    return _back_to(event, "#costs")


@bp.post("/<int:event_id>/tables")
@role_required(*PLANNERS)
def add_table(event_id):
    event = ev.get_event_or_404(event_id, current_user)
    form = TableForm(c.active_marketers(), prefix="table")
    if not form.validate_on_submit():
        return _event_page(event, 422, table_form=form)
    with attempt(form) as tried:
        ev.save_table(event, number=form.number.data, seats=form.seats.data,
                      label=form.label.data, host=db.session.get(User, form.host_id.data or 0),
                      actor=current_user)
    if tried.refusal:
        return _event_page(event, tried.status, table_form=form)
    flash(_("Table saved."), "success")
    return _back_to(event, "#tables")


@bp.post("/<int:event_id>/pickup-points")
@role_required(*PLANNERS)
def add_pickup_point(event_id):
    event = ev.get_event_or_404(event_id, current_user)
    form = PickupPointForm(prefix="pickup")
    if not form.validate_on_submit():
        return _event_page(event, 422, pickup_point_form=form)
    with attempt(form) as tried:
        point = ev.add_pickup_point(event, name=form.name.data,
                                    pickup_time=form.pickup_time.data, actor=current_user)
    if tried.refusal:
        return _event_page(event, tried.status, pickup_point_form=form)
    flash(_("Pickup point %(point)s added.", point=point.label), "success")
    return _back_to(event, "#pickup-points")


@bp.post("/<int:event_id>/pickup-points/<int:point_id>/remove")
@role_required(*PLANNERS)
def remove_pickup_point(event_id, point_id):
    event, point = _event_row_or_404(event_id, ev.EventPickupPoint, point_id)
    label = point.label
    run_operation(lambda: ev.remove_pickup_point(point, actor=current_user),
                  lambda guests: _("Pickup point %(point)s removed.", point=label) + (
                      " " + _("%(n)s guests need another pickup point.", n=guests)
                      if guests else ""))
    return _back_to(event, "#pickup-points")


@bp.post("/<int:event_id>/staff")
@role_required(*PLANNERS)
def staff(event_id):
    event = ev.get_event_or_404(event_id, current_user)
    people = db.session.scalars(select(User).where(
        User.is_active, User.role_rows.any(role="event_staff"))).all()
    form = StaffForm(people, prefix="staff")
    if not form.validate_on_submit():
        return _event_page(event, 422, staff_form=form)
    chosen = [u for u in people if u.id in set(form.staff.data or [])]
    ev.set_event_staff(event, chosen, actor=current_user)
    db.session.commit()
    flash(_("Event staff saved."), "success")
    return _back_to(event)


@bp.get("/<int:event_id>/seating")
@role_required(*PLANNERS, "event_staff")
def seating(event_id):
    """Who sits where (排座): tap a guest (?guest=<invitation id>), then a table to move them
    there with their party."""
    event = ev.get_event_or_404(event_id, current_user)
    return _seating_page(event, MoveGuestForm(formdata=None, invitation_id=id_arg("guest")))


def _seating_page(event, form, status=200):
    plan = st.seating(event, current_user)
    guests = [g for place in [*plan["tables"], plan["unseated"]] for g in place["guests"]]
    selected = next((g for g in guests if g["invitation"].id == form.invitation_id.data
                     and st.may_move(current_user, g["invitation"])), None)
    return render_template(
        "events/seating.html", event=event, plan=plan, form=form, selected=selected,
        movable={g["invitation"].id for g in guests if st.may_move(current_user, g["invitation"])},
        may_override=current_user.has_role(*ev.OVERRIDE_ROLES), action_form=BaseForm(),
        room_open=event.status not in ("closed", "cancelled")), status


@bp.post("/<int:event_id>/seating/move")
@role_required(*PLANNERS, "event_staff")
def move_guest(event_id):
    """Move the tapped guest, with their party, to the tapped table."""
    event = ev.get_event_or_404(event_id, current_user)
    form = MoveGuestForm()
    if not form.validate_on_submit():
        return _seating_page(event, form, refusal_status(form))
    with attempt(form) as tried:
        guest = st.get_guest_or_404(event, form.invitation_id.data, current_user)
        table = db.session.get(ev.EventTable, form.table_id.data)
        st.move_guest(guest, table, actor=current_user,
                      override_reason=form.override_reason.data)
    if tried.refusal:
        return _seating_page(event, form, tried.status)
    flash(_("%(name)s moved to %(table)s.", name=guest.customer.name, table=table.name),
          "success")
    return redirect(url_for("events.seating", event_id=event.id) + f"#table-{table.id}")


@bp.post("/<int:event_id>/seating/replan")
@role_required(*PLANNERS)
def replan_seating(event_id):
    """重新排座: plan again the guests not yet here and not moved by hand."""
    event = ev.get_event_or_404(event_id, current_user)
    if not BaseForm().validate_on_submit():
        abort(400)
    run_operation(lambda: st.replan(event, actor=current_user),
                  lambda result: _("Seats planned again: %(seated)s seated, %(left)s without a "
                                   "table.", seated=result[0], left=result[1]))
    return redirect(url_for("events.seating", event_id=event.id))


@bp.get("/<int:event_id>/invitations")
@role_required(*OFFICE)
def invitations(event_id):
    """Who is invited, by whom, in what state: the confirmation call list."""
    event = ev.get_event_or_404(event_id, current_user)
    query = ev.visible_invitations(current_user, event)
    status_filter = request.args.get("status", "")
    if status_filter in ev.INVITATION_STATUSES:
        query = query.where(ev.Invitation.status == status_filter)
    inviter = id_arg("inviter")
    if inviter:
        query = query.where(ev.Invitation.inviter_id == inviter)
    page = paginate(query.order_by(ev.Invitation.status, c.Customer.name_pinyin), 50)
    return render_template("events/invitations.html", event=event, page=page,
                           status_filter=status_filter, status_form=InvitationStatusForm(),
                           pickup_form=PickupForm(), intent_form=IntentForm(), intents=c.INTENTS,
                           counts=ev.status_counts(ev.visible_invitations(current_user, event)))


@bp.post("/invitations/<int:invitation_id>/status")
@role_required(*OFFICE)
def invitation_status(invitation_id):
    def change(invitation, form):
        run_operation(lambda: st.change_invitation(
            invitation, form.status.data, actor=current_user, companions=form.companions.data,
            override_reason=form.override_reason.data),
            lambda _result: _("%(name)s: %(status)s.", name=invitation.customer.name,
                              status=ev.INVITATION_STATUSES[invitation.status]))
    return _change_invitation(invitation_id, InvitationStatusForm, change)


def _change_invitation(invitation_id, form_class, change):
    """A change to one invitation from its row on the list: read the form, `change(invitation,
    form)` (which flashes its outcome), then back to the list where it was."""
    invitation = ev.get_invitation_or_404(invitation_id, current_user)
    form = form_class()
    if not form.validate_on_submit():
        flash(error_text(form), "danger")
    else:
        change(invitation, form)
    return redirect(url_for("events.invitations", event_id=invitation.event_id,
                            status=request.args.get("status", "")))


@bp.post("/invitations/<int:invitation_id>/intent")
@role_required(*OFFICE)
def invitation_intent(invitation_id):
    """The purchase intent heard from a guest who came (at the event, from the list)."""
    def change(invitation, form):
        run_operation(lambda: ev.record_event_intent(invitation, form.intent.data,
                                                     actor=current_user),
                      lambda row: _("%(name)s: purchase intent %(intent)s.",
                                    name=invitation.customer.name, intent=row.label))
    return _change_invitation(invitation_id, IntentForm, change)


@bp.post("/invitations/<int:invitation_id>/pickup")
@role_required(*OFFICE)
def invitation_pickup(invitation_id):
    """Whether a guest needs pickup, and at which of the event's pickup points."""
    def change(invitation, form):
        point_id = form.pickup_point_id.data
        point = db.session.get(ev.EventPickupPoint, point_id) if point_id else None
        if point_id and point is None:
            flash(_("That pickup point no longer exists: choose another."), "danger")
            return
        run_operation(lambda: ev.set_pickup(invitation, needs_pickup=form.needs_pickup.data,
                                            point=point, actor=current_user),
                      lambda _result: _("%(name)s: %(pickup)s.", name=invitation.customer.name,
                                        pickup=_pickup_label(invitation)))
    return _change_invitation(invitation_id, PickupForm, change)


def _pickup_label(invitation):
    if invitation.pickup_point is not None:
        return _("pickup at %(point)s", point=invitation.pickup_point.label)
    return _("needs pickup, point not chosen") if invitation.needs_pickup else _("no pickup")


@bp.post("/invite/<int:customer_id>")
@role_required(*OFFICE)
def invite(customer_id):
    """Invite one customer from their page."""
    customer = c.get_customer_or_404(customer_id, current_user)
    form = InviteForm()
    back = url_for("customers.show", customer_id=customer.id)
    if not form.validate_on_submit():
        flash(error_text(form), "danger")
        return redirect(back)
    with attempt() as tried:
        event = ev.get_event_or_404(form.event_id.data, current_user)
        ev.invite(event, customer, actor=current_user, companions=form.companions.data or 0,
                  note=form.note.data)
    if isinstance(tried.refusal, ev.AlreadyInvited):
        flash(tried.refusal.message, "warning")
        return redirect(url_for("events.invitations",
                                event_id=tried.refusal.invitation.event_id))
    if tried.refusal:
        flash(tried.refusal.message, "danger")
        return redirect(back)
    flash(_("%(name)s invited to %(event)s.", name=customer.name, event=event.title), "success")
    return redirect(back)


@bp.post("/bulk-invite")
@role_required(*OFFICE)
def bulk_invite():
    """Invite the customers ticked in the customer list."""
    form = InviteForm()
    back = safe_next(request.form.get("back"), url_for("customers.index"))
    if not form.validate_on_submit():
        flash(error_text(form), "danger")
        return redirect(back)
    ids = ids_from(request.form.getlist("ids"))
    with attempt(flash=True) as tried:
        event = ev.get_event_or_404(form.event_id.data, current_user)
        invited, skipped = ev.bulk_invite(event, ids, actor=current_user)
    if tried.refusal:
        return redirect(back)
    message = _("%(n)s customers invited to %(event)s.", n=invited, event=event.title)
    if skipped:
        message += " " + _("%(n)s were already invited.", n=skipped)
    flash(message, "success")
    return redirect(back)


@bp.get("/<int:event_id>/cards.pdf")
@role_required(*OFFICE)
def cards(event_id):
    """Invitation cards of every confirmed invitation the user may see, in one PDF."""
    event = ev.get_event_or_404(event_id, current_user)
    query = ev.visible_invitations(current_user, event).where(
        ev.Invitation.status == "confirmed").order_by(c.Customer.name_pinyin)
    return _cards_pdf(event, db.session.scalars(query).all(),
                      file_name(_("Invitation cards"), event.title, ext=".pdf"))


@bp.get("/invitations/<int:invitation_id>/card.pdf")
@role_required(*OFFICE)
def card(invitation_id):
    invitation = ev.get_invitation_or_404(invitation_id, current_user)
    return _cards_pdf(invitation.event, [invitation],
                      file_name(_("Invitation cards"), invitation.customer.name, ext=".pdf"))


@bp.get("/invitations/<int:invitation_id>/card.png")
@role_required(*OFFICE)
def card_image(invitation_id):
    """The invitation card as a PNG to send in WeChat (?download=1 saves it; else it shows)."""
    invitation = ev.get_invitation_or_404(invitation_id, current_user)
    png = invitation_image.build(invitation_image.gather(invitation))
    return send_download(png, file_name(_("Invitation cards"), invitation.event.title,
                                        invitation.customer.name, ext=".png"),
                         inline=request.args.get("download") != "1", mimetype="image/png")


def _cards_pdf(event, invitations, filename):
    layout = request.args.get("layout", "a4")
    if layout not in invitation_cards.LAYOUTS:
        raise InvalidInput(_("Unknown card layout."))
    if not invitations:
        raise NotFound(_("There are no confirmed invitations to print yet."))
    data = invitation_cards.gather(invitation_cards.Params(
        event_id=event.id, invitation_ids=tuple(i.id for i in invitations), layout=layout,
        printed_by=current_user.display_name, printed_at=utcnow()))
    return send_download(invitation_cards.build(data), filename)


# --- Paper for the event day: everyone who sees the event page may print it ---------------------

def _choice(name, allowed):
    value = request.args.get(name, allowed[0])
    if value not in allowed:
        raise InvalidInput(_("Unknown print layout."))
    return value


def _event_day_paper(event_id, title, gather, build, *, choice="", needs_tables=False):
    event = ev.get_event_or_404(event_id, current_user)
    if needs_tables and not event.tables:
        raise NotFound(_("This event has no tables yet."))
    params = papers.Params(event_id=event.id,
                           guest_ids=papers.guest_ids_for(event, current_user),
                           printed_by=current_user.display_name, printed_at=utcnow(),
                           choice=choice)
    return send_download(build(gather(params)), file_name(title, event.title, ext=".pdf"))


@bp.get("/<int:event_id>/sign-in-sheet.pdf")
@role_required(*OFFICE, "event_staff")
def sign_in_sheet(event_id):
    """签到表: the guests by marketer (?by=marketer) or by table (?by=table), a line to sign."""
    return _event_day_paper(event_id, _("Sign-in sheet"), papers.gather_sign_in,
                            papers.build_sign_in, choice=_choice("by", papers.GROUPINGS))


@bp.get("/<int:event_id>/seating-chart.pdf")
@role_required(*OFFICE, "event_staff")
def seating_chart(event_id):
    """座位表: every table with its host, guests and seats used."""
    return _event_day_paper(event_id, _("Seating chart"), papers.gather_seating,
                            papers.build_seating)


@bp.get("/<int:event_id>/table-cards.pdf")
@role_required(*OFFICE, "event_staff")
def table_cards(event_id):
    """桌卡: one card per table, A4 folded into a tent (?size=a4) or A5 (?size=a5)."""
    return _event_day_paper(event_id, _("Table cards"), papers.gather_table_cards,
                            papers.build_table_cards,
                            choice=_choice("size", papers.CARD_SIZES), needs_tables=True)


@bp.get("/<int:event_id>/pickup-list.pdf")
@role_required(*OFFICE, "event_staff")
def pickup_list(event_id):
    """接送名单: the guests to pick up per pickup point and time, for the bus driver."""
    return _event_day_paper(event_id, _("Pickup list"), papers.gather_pickup,
                            papers.build_pickup)

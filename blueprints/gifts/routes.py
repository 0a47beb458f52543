"""Gift control: an event's gift rules, stock, ledger and summaries; the door gift in one tap;
purchase gifts with an order; taking a gift back."""
from flask import (Blueprint, flash, redirect, render_template, request, url_for)
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from blueprints.access import role_required
from blueprints.files import file_name, send_download
from blueprints.forms import BaseForm, attempt, error_text, posted_token, run_operation
from blueprints.gifts.forms import (DeskGiveForm, ManualGiftForm, PurchaseGiftsForm,
                                    ReverseGiftForm, RuleForm, WarehouseForm)
from blueprints.inventory.forms import to_fen
from extensions import db
from formatting import local_dt
from models import checkin as ci, events as ev, gifts as g, inventory as inv
from models import orders as o
from models.base import InvalidInput, NotFound
from models.settings import get_setting
from reports.xlsx import write_workbook

bp = Blueprint("gifts", __name__, url_prefix="/gifts")

VIEW = ("admin", "manager", "dept_head", "warehouse", "finance")
DOOR = ci.DOOR_ROLES


def _event(event_id):
    return ev.get_event_or_404(event_id, current_user)


@bp.get("/")
@role_required(*VIEW)
def index():
    events = db.session.scalars(select(ev.Event).where(ev.Event.status != "cancelled")
                                .order_by(ev.Event.starts_at.desc()).limit(30)).all()
    costs = {event.id: g.event_gift_cost(event) for event in events}
    return render_template("gifts/index.html", events=events, costs=costs,
                           rules=[r for r in g.rules_for(None, active_only=False)],
                           rule_form=RuleForm(kind="purchase"))


@bp.get("/events/<int:event_id>")
@role_required(*VIEW)
def event(event_id):
    item = _event(event_id)
    return _event_page(item)


#: Gift issues listed on the event's page (the .xlsx has them all).
LEDGER_SHOWN = 50


def _event_page(item, status=200, rule_form=None):
    warehouse = g.event_warehouse(item)
    ledger_size = g.ledger_size(item, user=current_user)
    return render_template(
        "gifts/event.html", event=item, rules=[r for r in g.rules_for(item, active_only=False)
                                               if r.event_id == item.id],
        company_rules=[r for r in g.rules_for(None) if r.event_id is None],
        stock=g.gift_stock(item), warehouse=warehouse,
        ledger=g.event_ledger(item, limit=LEDGER_SHOWN, user=current_user),
        ledger_size=ledger_size, ledger_partial=ledger_size < g.ledger_size(item),
        by_product=g.summary_by_product(item), by_marketer=g.summary_by_marketer(item),
        cost=g.event_gift_cost(item), per_arrival=g.cost_per_arrival(item),
        per_deal=g.cost_per_deal(item), rule_form=rule_form or RuleForm(),
        warehouse_form=WarehouseForm(warehouse_id=warehouse.id if warehouse else None),
        reverse_form=ReverseGiftForm(prefix="reverse")), status


def _save_rule(item):
    form = RuleForm()
    if not form.validate_on_submit():
        return None, form
    with attempt(form) as tried:
        rule = g.save_rule(
            None, event=item, kind=form.kind.data, name=form.name.data,
            product=db.session.get(inv.Product, form.product_id.data or 0),
            quantity=form.quantity.data, actor=current_user,
            attendance_for=form.attendance_for.data,
            companion_quantity=form.companion_quantity.data or 0,
            condition=form.condition.data,
            condition_product=db.session.get(inv.Product, form.condition_product_id.data or 0),
            condition_package=db.session.get(o.Package, form.condition_package_id.data or 0),
            min_quantity=form.min_quantity.data or 0, min_spend=to_fen(form.min_spend.data) or 0,
            repeats=form.repeats.data, exclusive_group=form.exclusive_group.data,
            counts_packages=form.counts_packages.data, waits_for=form.waits_for.data)
    if tried.refusal:
        return None, form
    flash(_("Gift rule saved: %(rule)s", rule=rule.label), "success")
    return rule, form


@bp.post("/events/<int:event_id>/rules")
@role_required("manager")
def add_rule(event_id):
    item = _event(event_id)
    rule, form = _save_rule(item)
    if rule is None:
        return _event_page(item, 422, rule_form=form)
    return redirect(url_for("gifts.event", event_id=item.id))


@bp.post("/rules")
@role_required("manager")
def add_company_rule():
    rule, form = _save_rule(None)
    if rule is None:
        flash(error_text(form), "danger")
    return redirect(url_for("gifts.index"))


@bp.post("/rules/<int:rule_id>/toggle")
@role_required("manager")
def toggle_rule(rule_id):
    rule = db.session.get(g.GiftRule, rule_id) if rule_id < 2**31 else None
    if rule is None:
        raise NotFound(_("Not found, or not yours to see."))
    if BaseForm().validate_on_submit():
        rule.is_active = not rule.is_active
        db.session.commit()
        flash(_("Gift rule switched on.") if rule.is_active else _("Gift rule switched off."),
              "success")
    back = url_for("gifts.event", event_id=rule.event_id) if rule.event_id else \
        url_for("gifts.index")
    return redirect(back)


@bp.post("/events/<int:event_id>/warehouse")
@role_required("manager", "admin")
def event_warehouse(event_id):
    item = _event(event_id)
    form = WarehouseForm()
    if form.validate_on_submit():
        run_operation(lambda: g.set_event_warehouse(
            item, db.session.get(inv.Warehouse, form.warehouse_id.data or 0),
            actor=current_user), _("The event's gifts now come from this warehouse."))
    return redirect(url_for("gifts.event", event_id=item.id))


@bp.get("/events/<int:event_id>/ledger.xlsx")
@role_required(*VIEW)
def ledger_xlsx(event_id):
    item = _event(event_id)
    headers = [_("When"), _("Customer"), _("Kind"), _("Gift"), _("Quantity"), _("Cost (yuan)"),
               _("Marketer"), _("Given by"), _("Order"), _("Note")]
    rows = [[local_dt(i.at), i.customer.name, str(g.ISSUE_KINDS.get(i.kind, i.kind)),
             i.product.name, i.signed_quantity, i.signed_cost / 100,
             i.marketer.display_name if i.marketer_id else "", i.staff.display_name,
             i.order_id or "", i.note] for i in g.event_ledger(item, user=current_user)]
    data = write_workbook(_("Gifts"), headers, rows)
    return send_download(data, file_name(_("Gift ledger"), item.title, ext=".xlsx"))


# --- At the door -----------------------------------------------------------------------------

@bp.post("/events/<int:event_id>/attendance/<int:customer_id>")
@role_required(*DOOR, "marketer", "dept_head", "warehouse")
def attendance(event_id, customer_id):
    """One tap under a check-in: the attendance gift (htmx: the gift panel comes back)."""
    item = ci.get_door_event_or_404(event_id, current_user)
    customer = ci.get_guest_or_404(item, customer_id)
    form = BaseForm()
    message, status = None, 200
    if form.validate_on_submit():
        with attempt() as tried:
            g.issue_attendance_gifts(item, customer, actor=current_user,
                                     token=posted_token())
        if tried.refusal:
            message, status = tried.refusal.message, tried.status
    else:
        message, status = error_text(form), 400
    state = g.door_state(item, customer.id)
    if not request.headers.get("HX-Request"):  # a tap before the page's script was ready
        if message:
            flash(message, "danger")
        elif state and state["issued"]:
            flash(_("Gift given to %(name)s: %(gift)s × %(n)s", name=customer.name,
                    gift=state["issued"].product.name, n=state["issued"].quantity), "success")
        return redirect(url_for("checkin.screen", event_id=item.id))
    return render_template("gifts/_door.html", event=item, gift=state, gift_form=BaseForm(),
                           record={"customer_id": customer.id}, message=message), status


# --- The gift desk ---------------------------------------------------------------------------

#: Who hands out gifts at the desk: those who work the door (event staff only at the events they
#: staff: _event() is a 404 elsewhere) and the warehouse, at every event.
DESK = (*DOOR, "warehouse")


def _desk_context(item, text=""):
    return {"event": item, "rows": g.desk_rows(item, text), "counts": g.desk_counts(item),
            "stock": g.gift_stock(item), "warehouse": g.event_warehouse(item),
            "has_rule": bool(g.attendance_rules(item)), "q": text,
            "low": get_setting("gifts.low_stock_warning")}


@bp.get("/events/<int:event_id>/desk")
@role_required(*DESK)
def desk(event_id):
    """The gift desk: the arrived guests, those still owed their gift first, one tap each
    (htmx with `q`: the two lists found by the search box)."""
    item = _event(event_id)
    text = request.args.get("q", "").strip()[:40]
    template = "gifts/_desk_lists.html" if request.headers.get("HX-Request") \
        else "gifts/desk.html"
    return render_template(template, **_desk_context(item, text))


@bp.post("/events/<int:event_id>/desk")
@role_required(*DESK)
def desk_give(event_id):
    """One tap: the guest's attendance and companion gifts. htmx gets the guest's row back
    (moved to the given list, with the stock and counts), a plain post the desk again.

    A refusal comes back as the row with its message and status 200: htmx swaps in only 2xx
    answers, and the message belongs where the tap was."""
    item = _event(event_id)
    form = DeskGiveForm()
    customer_id = form.customer_id.data
    with attempt(form) as tried:
        if not form.validate_on_submit():
            raise InvalidInput(error_text(form))
        guest = g.desk_guest(item, customer_id)
        g.give_at_desk(item, guest, actor=current_user, token=form.token.data)
    message = tried.refusal.message if tried.refusal else None
    if not request.headers.get("HX-Request"):
        if tried.refusal is None:
            flash(_("Gift given."), "success")
        else:  # given already is news, not a fault
            flash(message, "warning" if isinstance(tried.refusal, g.AttendanceGiftGiven)
                  else "danger")
        return redirect(url_for("gifts.desk", event_id=item.id))
    rows = g.desk_rows(item, customer_id=customer_id) if customer_id else []
    return render_template("gifts/_desk_answer.html", event=item, row=rows[0] if rows else None,
                           message=message, given_now=tried.refusal is None,
                           counts=g.desk_counts(item), stock=g.gift_stock(item),
                           warehouse=g.event_warehouse(item),
                           low=get_setting("gifts.low_stock_warning"))


# --- With an order ---------------------------------------------------------------------------

@bp.post("/orders/<int:order_id>")
@role_required(*o.SELLER_ROLES, "finance")
def purchase(order_id):
    order = o.get_order_or_404(order_id, current_user)
    form = PurchaseGiftsForm()
    form.rule_ids.choices = [(rule.id, rule.label) for rule, _q in g.proposal_for(order)]
    if not form.validate_on_submit():
        flash(error_text(form) or _("Tick the gifts to give."), "danger")
    else:
        run_operation(lambda: g.issue_purchase_gifts(
            order, rule_ids=form.rule_ids.data, actor=current_user, token=form.token.data,
            confirm_below_promise=form.confirm_below_promise.data),
                      lambda issues: _("%(n)s gifts given.", n=len(issues)))
    return redirect(url_for("orders.show", order_id=order.id) + "#gifts")


@bp.post("/orders/<int:order_id>/manual")
@role_required("manager")
def manual(order_id):
    order = o.get_order_or_404(order_id, current_user)
    form = ManualGiftForm(prefix="manual")
    if not form.validate_on_submit():
        flash(error_text(form), "danger")
    else:
        run_operation(lambda: g.issue_manual_gift(
            order, product=db.session.get(inv.Product, form.product_id.data or 0),
            quantity=form.quantity.data, actor=current_user, token=form.token.data,
            note=form.note.data, confirm_below_promise=form.confirm_below_promise.data),
            _("Gift given."))
    return redirect(url_for("orders.show", order_id=order.id) + "#gifts")


@bp.post("/issues/<int:issue_id>/reverse")
@role_required("warehouse", "manager", "finance")
def reverse(issue_id):
    issue = db.session.get(g.GiftIssue, issue_id) if issue_id < 2**31 else None
    if issue is None:
        raise NotFound(_("Not found, or not yours to see."))
    form = ReverseGiftForm(prefix="reverse")
    if not form.validate_on_submit():
        flash(error_text(form), "danger")
    else:
        run_operation(lambda: g.reverse_gift(issue, reason=form.reason.data,
                                             actor=current_user), _("Gift taken back."))
    if request.form.get("next_order") and issue.order_id:
        return redirect(url_for("orders.show", order_id=issue.order_id) + "#gifts")
    return redirect(url_for("gifts.event", event_id=issue.event_id) if issue.event_id
                    else url_for("gifts.index"))

"""The sale and the money: take an order (packages in two taps), payments, refunds, returns,
arrears, the daily close, packages."""
from datetime import timedelta

from flask import (Blueprint, flash, redirect, render_template, request,
                   url_for)
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from blueprints.access import role_required
from blueprints.files import file_name, send_download
from blueprints.forms import (BaseForm, attempt, error_text, id_arg, paginate, refusal_status,
                              run_operation, to_fen, yuan)
from blueprints.gifts.forms import ManualGiftForm, PurchaseGiftsForm
from blueprints.orders.forms import (CloseForm, ConfirmForm, OrderForm, PackageForm,
                                     PaymentForm, PinForm, ReasonForm, RefundForm, ReopenForm,
                                     ReturnForm)
from extensions import db
from formatting import fen, local_day, parse_day
from models import (aftersales, custody, customers as c, events as ev, gifts, inventory as inv,
                    order_taking)
from models import orders as o
from models.accounts import Department, User
from models.base import InvalidInput, NotFound, utcnow
from models.settings import get_setting
from models.orders import pricing, safeguards
from reports import order_receipt, order_summary

bp = Blueprint("orders", __name__, url_prefix="/orders")

VIEW = ("manager", "dept_head", "marketer", "finance")
SELL = o.SELLER_ROLES
CASHIERS = o.CASHIER_ROLES
APPROVERS = o.APPROVER_ROLES


def _today():
    return local_day(utcnow())


# --- Lists -----------------------------------------------------------------------------------

@bp.get("/")
@role_required(*VIEW)
def index():
    state = request.args.get("state", "")
    text = request.args.get("q", "").strip()[:40]
    query = o.find_orders(current_user, text=text, state=state,
                          event_id=id_arg("event_id"))
    return render_template("orders/index.html", page=paginate(query, 30), state=state,
                           text=text)


@bp.get("/arrears")
@role_required(*VIEW)
def arrears():
    department_id, marketer_id = id_arg("department_id"), id_arg("marketer_id")
    today = _today()
    query = o.arrears_query(current_user, department_id=department_id,
                            marketer_id=marketer_id)
    page = paginate(query, 100)
    rows = [(order, (today - order.due_date).days if order.due_date else 0) for order in
            page.items]
    rows = [(order, days, o.bucket_of(days)) for order, days in rows]
    totals = o.ageing_totals(query, today)
    departments = db.session.scalars(select(Department).order_by(Department.name)).all() \
        if current_user.has_role("manager", "finance") else []
    return render_template("orders/arrears.html", rows=rows, totals=totals, page=page,
                           labels={code: str(label) for code, label in o.AGEING.items()},
                           departments=departments, department_id=department_id,
                           marketer_id=marketer_id, today=today)


# --- Taking an order -------------------------------------------------------------------------

@bp.route("/new/<int:customer_id>", methods=["GET", "POST"])
@role_required(*SELL)
def new(customer_id):
    customer = c.get_customer_or_404(customer_id, current_user)
    events = order_taking.events_for_order(customer, current_user)
    form = OrderForm(events, order_taking.marketers_for_order(customer, current_user))
    packages = o.packages()
    if request.method == "GET":
        form.marketer_id.data = (customer.owner or current_user).id
        event_id = id_arg("event_id")
        event = next((e for e in events if e.id == event_id), None) or \
            order_taking.event_attended_today(customer, events)
        if event is not None:
            form.event_id.data, form.channel.data = event.id, "event"
        elif not events:
            form.channel.data = "store"
    status = 422 if form.is_submitted() else 200
    if form.validate_on_submit():
        lines, ok = form.product_lines()
        for package in packages:
            if count := form.packages.data.get(package.id):
                lines.extend(o.package_lines(package, count,
                                             held=package.id in form.packages_held.data))
        if ok:
            with attempt() as tried:
                order, deferred = order_taking.take_order(
                    customer, lines=lines, actor=current_user, token=form.token.data,
                    warehouse=db.session.get(inv.Warehouse, form.warehouse_id.data or 0),
                    marketer=db.session.get(User, form.marketer_id.data or 0),
                    channel=form.channel.data,
                    event=db.session.get(ev.Event, form.event_id.data or 0)
                    if form.channel.data == "event" else None,
                    due_date=form.due_date.data, note=form.note.data,
                    deposit=to_fen(form.deposit.data), deposit_method=form.deposit_method.data,
                    deposit_reference=form.deposit_reference.data,
                    payment_token=form.payment_token.data,
                    confirm_below_promise=form.confirm_below_promise.data)
            if tried.refusal:
                _place_error(form, tried.refusal)
                status = tried.status
            else:
                if deferred:
                    flash(_("This order waits for a confirmation: take the deposit once a "
                            "department head or manager has confirmed it."), "warning")
                flash(_("Order %(number)s taken: %(total)s.", number=order.number,
                        total=fen(order.total)), "success")
                return redirect(url_for("orders.show", order_id=order.id))
    products = db.session.scalars(inv.find_products(flag="for_sale")).all()
    return render_template("orders/new.html", form=form, customer=customer, packages=packages,
                           chosen=_chosen_packages(form, packages), products=products,
                           prices={p.id: pricing.grade_price(p, customer) for p in products},
                           grade_pct=pricing.grade_pct(customer),
                           cap_pct=pricing.cap_pct(current_user),
                           due=o.customer_due(customer),
                           open_tickets=aftersales.open_tickets_of(customer)), status


def _chosen_packages(form, packages):
    """{package id: (the count as typed, left in custody?)}: the tiles shown again."""
    return {package.id: (form.packages.entered.get(f"package-{package.id}", ""),
                         package.id in form.packages_held.data)
            for package in packages}


def _place_error(form, exc):
    """Errors on "lines-2-quantity" land on that field of the third line, others on their
    field or at the top of the form."""
    parts = (exc.field or "").split("-")
    if len(parts) == 3 and parts[0] == "lines" and parts[1].isdecimal() and \
            int(parts[1]) < len(form.lines.entries):
        line = form.lines.entries[int(parts[1])].form
        field = line._fields.get(parts[2]) or line.quantity
        field.errors = [*field.errors, exc.message]
    if exc.field == "amount":
        form.deposit.errors = [*form.deposit.errors, exc.message]
    if exc.field == "confirm_below_promise":  # the box to tick shows now
        form.confirm_below_promise.errors = [*form.confirm_below_promise.errors, exc.message]
    form.form_errors.append(exc.message)


# --- An order --------------------------------------------------------------------------------

def _order_page(order, status=200, **forms):
    today = _today()
    payment_form = forms.get("payment_form")
    if payment_form is None:  # the cashier usually takes what is due: it is in the box
        payment_form = PaymentForm(prefix="pay")
        if payment_form.amount.data is None and order.balance_due > 0:
            payment_form.amount.data = yuan(order.balance_due)
    context = {
        "order": order, "payments": o.payments_of(order), "returns": o.returns_of(order),
        "held": custody.order_holdings(order),
        "payment_form": payment_form,
        "refund_form": forms.get("refund_form") or RefundForm(prefix="refund"),
        "return_form": forms.get("return_form") or ReturnForm(order, prefix="return"),
        "reason_form": forms.get("reason_form") or ReasonForm(prefix="cancel"),
        "action_form": BaseForm(), "today": today,
        "gift_proposal": [(rule, quantity, gifts.waiting_for(rule, order))
                          for rule, quantity in gifts.proposal_for(order)]
        if order.status == "open" and not order.is_pending else [],
        "gifts_given": gifts.order_gifts(order), "gift_form": PurchaseGiftsForm(),
        "manual_form": ManualGiftForm(prefix="manual"),
        "overdue_days": (today - order.due_date).days if order.due_date else 0,
        "cooling_off_last_day": safeguards.cooling_off_last_day(order),
        "in_cooling_off": today <= safeguards.cooling_off_last_day(order),
    }
    if order.is_pending:
        confirmers = safeguards.confirmers_for(order, current_user)
        context["confirm_form"] = forms.get("confirm_form") or ConfirmForm(confirmers,
                                                                           prefix="confirm")
        context["confirmers"] = confirmers
        context["family_needed"] = get_setting("orders.large_needs_family")
    return render_template("orders/show.html", **context), status


@bp.get("/<int:order_id>")
@role_required(*VIEW)
def show(order_id):
    return _order_page(o.get_order_or_404(order_id, current_user))


@bp.get("/<int:order_id>/receipt.pdf")
@role_required(*VIEW)
def receipt(order_id):
    order = o.get_order_or_404(order_id, current_user)
    pdf = order_receipt.build(order_receipt.gather(order, printed_by=current_user.display_name))
    return send_download(pdf, file_name(_("Order receipt"), order.number, ext=".pdf"))


@bp.get("/<int:order_id>/summary.pdf")
@role_required(*VIEW)
def summary(order_id):
    """The large-print summary (A5) the customer takes home."""
    order = o.get_order_or_404(order_id, current_user)
    pdf = order_summary.build(order_summary.gather(order, printed_by=current_user.display_name))
    return send_download(pdf, file_name(_("Order summary"), order.number, ext=".pdf"))


@bp.post("/<int:order_id>/confirm")
@role_required(*SELL)
def confirm(order_id):
    order = o.get_order_or_404(order_id, current_user)
    form = ConfirmForm(safeguards.confirmers_for(order, current_user), prefix="confirm")
    if not form.validate_on_submit():
        return _order_page(order, 422, confirm_form=form)
    confirmer = db.session.get(User, form.confirmer_id.data)
    with attempt(form) as tried:
        order_taking.confirm_order(order, confirmer=confirmer, actor=current_user,
                                   pin=form.pin.data, family_informed=form.family_informed.data,
                                   confirm_below_promise=form.confirm_below_promise.data)
    if isinstance(tried.refusal, safeguards.WrongPin):
        # The failure is kept (its own transaction, after the refused one's rollback).
        safeguards.record_pin_failure(tried.refusal, actor=current_user,
                                      order_number=order.number)
        db.session.commit()
    if tried.refusal:
        return _order_page(o.get_order_or_404(order_id, current_user), tried.status,
                           confirm_form=form)
    flash(_("Order %(number)s is confirmed by %(name)s; a confirmation call is on their list "
            "for tomorrow.", number=order.number, name=confirmer.display_name), "success")
    return redirect(url_for("orders.show", order_id=order_id))


@bp.route("/my-pin", methods=["GET", "POST"])
@role_required(*safeguards.CONFIRMER_ROLES)
def my_pin():
    """A department head or manager sets the PIN they type on a marketer's tablet."""
    form = PinForm()
    status = 422 if form.is_submitted() else 200
    if form.validate_on_submit():
        with attempt(form) as tried:
            safeguards.set_pin(current_user._get_current_object(), pin=form.pin.data,
                               password=form.password.data)
        if tried.refusal:
            status = tried.status
        else:
            flash(_("Your PIN is set."), "success")
            return redirect(url_for("main.index"))
    return render_template("orders/pin.html", form=form), status


def _money_action(order_id, form_class, prefix, operation, success):
    order = o.get_order_or_404(order_id, current_user)
    form = form_class(order, prefix=prefix) if form_class is ReturnForm else \
        form_class(prefix=prefix)
    if not form.validate_on_submit():
        return _order_page(order, 422, **{f"{_FORM_NAMES[form_class]}": form})
    with attempt(form) as tried:
        result = operation(order, form)
    if tried.refusal:
        return _order_page(o.get_order_or_404(order_id, current_user), tried.status,
                           **{f"{_FORM_NAMES[form_class]}": form})
    flash(success(result), "success")
    return redirect(url_for("orders.show", order_id=order_id))


_FORM_NAMES = {PaymentForm: "payment_form", RefundForm: "refund_form",
               ReturnForm: "return_form", ReasonForm: "reason_form"}


@bp.post("/<int:order_id>/payments")
@role_required(*CASHIERS)
def pay(order_id):
    def operation(order, form):
        now = utcnow()
        return o.receive_payment(order, amount=to_fen(form.amount.data), method=form.method.data,
                                 reference=form.reference.data, actor=current_user,
                                 token=form.token.data, at=form.received_at(now), now=now)
    return _money_action(order_id, PaymentForm, "pay", operation,
                         lambda p: _("Received %(amount)s.", amount=fen(p.amount)))


@bp.post("/<int:order_id>/refunds")
@role_required(*APPROVERS)
def refund(order_id):
    def operation(order, form):
        return o.refund(order, amount=to_fen(form.amount.data), method=form.method.data,
                        reason=form.reason.data, actor=current_user, approver=current_user,
                        token=form.token.data, goodwill=form.goodwill.data)
    return _money_action(order_id, RefundForm, "refund", operation,
                         lambda p: _("Refunded %(amount)s.", amount=fen(-p.amount)))


@bp.post("/<int:order_id>/returns")
@role_required(*APPROVERS)
def return_goods(order_id):
    def operation(order, form):
        line = next((line for line in order.lines if line.id == form.line_id.data), None)
        if line is None:
            raise NotFound(_("That line is not on this order."))
        batch = None
        if form.batch_number.data:
            batch = inv.batch_named(line.product, form.batch_number.data)
            if batch is None:
                raise InvalidInput(_("No such batch of this product."), field="batch_number")
        return order_taking.return_goods(
            order, line, quantity=form.quantity.data, reason=form.reason.data, batch=batch,
            approver=current_user, actor=current_user, token=form.token.data,
            disposition=form.disposition.data,
            warehouse=db.session.get(inv.Warehouse, form.warehouse_id.data or 0))
    return _money_action(order_id, ReturnForm, "return", operation,
                         lambda r: _("Return recorded: %(value)s off the order.",
                                     value=fen(r.value)))


@bp.post("/<int:order_id>/cancel")
@role_required(*SELL)
def cancel(order_id):
    return _money_action(order_id, ReasonForm, "cancel",
                         lambda order, form: order_taking.cancel_order(
                             order, reason=form.reason.data, actor=current_user),
                         lambda order: _("Order %(number)s cancelled.", number=order.number))


@bp.post("/payments/<int:payment_id>/reverse")
@role_required("finance")
def reverse_payment(payment_id):
    payment = db.session.get(o.Payment, payment_id) if payment_id < 2**31 else None
    if payment is None:
        raise NotFound(_("Not found, or not yours to see."))
    order = o.get_order_or_404(payment.order_id, current_user)
    form = ReasonForm(prefix="reverse")
    if not form.validate_on_submit():
        flash(error_text(form), "danger")
    else:
        run_operation(lambda: o.reverse_payment(payment, reason=form.reason.data,
                                                actor=current_user), _("Entry reversed."))
    return redirect(url_for("orders.show", order_id=order.id))


# --- The daily close -------------------------------------------------------------------------

def _day_arg(form):
    """The day to close (query string, or the close form's): today when absent, not a date,
    in the future or more than ten years back."""
    try:
        day = parse_day(request.args.get("day") or form.day.data)
    except ValueError:
        day = None
    return day if day and _today() - timedelta(days=3660) <= day <= _today() else _today()


@bp.route("/close", methods=["GET", "POST"])
@role_required(*o.CLOSE_ROLES)
def close():
    form = CloseForm()
    day = _day_arg(form)
    status = 200
    if form.validate_on_submit():
        cashier = db.session.get(User, form.cashier_id.data)
        declared = form.declared.form.amounts()
        if cashier is None:
            flash(_("Choose whose day to close."), "danger")
            status = 422
        elif run_operation(lambda: o.close_day(cashier, day, declared=declared,
                                               actor=current_user, note=form.note.data),
                           lambda record: _("%(name)s's session #%(session)s is closed.",
                                            name=cashier.display_name,
                                            session=record.session)):
            return redirect(url_for("orders.close", day=day.isoformat()))
        else:
            status = 409
    elif form.is_submitted():
        flash(error_text(form), "danger")
        status = refusal_status(form)
    return render_template("orders/close.html", day=day, cashiers=o.cashiers_of_day(day),
                           form=form, reopen_form=ReopenForm(), today=_today()), status


@bp.post("/close/<int:close_id>/reopen")
@role_required(*o.REOPEN_ROLES)
def reopen_close(close_id):
    record = _close_or_404(close_id)
    form = ReopenForm()
    if not form.validate_on_submit():
        flash(error_text(form), "danger")
    else:
        run_operation(lambda: o.reopen_close(record, reason=form.reason.data,
                                             actor=current_user),
                      lambda reopened: _("Session #%(session)s of %(name)s's day is reopened: "
                                         "its entries go into the next close.",
                                         session=reopened.session,
                                         name=reopened.cashier.display_name))
    return redirect(url_for("orders.close", day=record.day.isoformat()))


def _close_or_404(close_id):
    """A cashier's close by id (finance and managers see every one), else a 404."""
    record = db.session.get(o.CashClose, close_id) if close_id < 2**31 else None
    if record is None:
        raise NotFound(_("Not found, or not yours to see."))
    return record


@bp.get("/close/<int:close_id>.pdf")
@role_required(*o.CLOSE_ROLES)
def close_pdf(close_id):
    from reports import daily_close
    record = _close_or_404(close_id)
    pdf = daily_close.build(daily_close.gather(record, printed_by=current_user.display_name))
    return send_download(pdf, file_name(_("Daily close"), record.day, ext=".pdf"))


# --- Packages --------------------------------------------------------------------------------

@bp.get("/packages")
@role_required(*VIEW)
def packages():
    return render_template("orders/packages.html", packages=o.packages(active_only=False))


@bp.route("/packages/new", methods=["GET", "POST"])
@role_required("manager")
def new_package():
    return _package_form(None)


@bp.route("/packages/<int:package_id>/edit", methods=["GET", "POST"])
@role_required("manager")
def edit_package(package_id):
    package = db.session.get(o.Package, package_id) if package_id < 2**31 else None
    if package is None:
        raise NotFound(_("Not found, or not yours to see."))
    return _package_form(package)


def _package_form(package):
    form = PackageForm()
    if request.method == "GET" and package is not None:
        form.name.data, form.price.data = package.name, yuan(package.price)
        form.description.data, form.is_active.data = package.description, package.is_active
        for entry, item in zip(form.items.entries, package.items):
            entry.form.sku.data, entry.form.quantity.data = item.product.sku, item.quantity
    status = 422 if form.is_submitted() else 200
    if form.validate_on_submit():
        items, ok = [], True
        for entry in form.items.entries:
            line = entry.form
            if not (line.sku.data or line.quantity.data):
                continue
            product = inv.product_by_code(line.sku.data)
            if product is None:
                line.sku.errors = [*line.sku.errors, _("No product in use has this SKU.")]
                ok = False
            items.append((product, line.quantity.data or 0))
        if ok:
            with attempt(form) as tried:
                saved = o.save_package(package, name=form.name.data,
                                       price=to_fen(form.price.data), items=items,
                                       description=form.description.data,
                                       is_active=form.is_active.data, actor=current_user)
            if tried.refusal:
                status = tried.status
            else:
                flash(_("Package %(name)s saved.", name=saved.name), "success")
                return redirect(url_for("orders.packages"))
    return render_template("orders/package_form.html", form=form, package=package,
                           products=db.session.scalars(inv.find_products(flag="for_sale"))
                           .all()), status

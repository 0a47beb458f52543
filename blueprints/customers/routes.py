"""Customers: the list and search, the customer page and timeline, contact logs, ownership,
the public pool, import and export."""
from datetime import date

from flask import (Blueprint, abort, flash, redirect, render_template, request,
                   url_for)
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import func, select

from blueprints.access import role_required, safe_next
from blueprints.customers.forms import (BulkForm, ChannelCostForm, ContactForm, CustomerForm,
                                        ExperienceForm, FilterForm, HandoverForm,
                                        ImportUploadForm, IntentForm, ListsForm,
                                        ReverseChannelCostForm)
from blueprints.events.forms import InviteForm
from blueprints.files import file_name, send_download
from blueprints.forms import BaseForm, attempt, error_text, id_arg, paginate, run_operation
from extensions import db
from jobs import customers as customer_jobs, worklists
from formatting import local_day, national_phone
from models import (aftersales, background, custody, customer_import as imports,
                    customers as c, order_taking, orders, points)
from models.accounts import User
from models.base import InvalidInput, NotFound, OperationError, utcnow
from models.scoping import can_see_full_phone, visible_users
from models.timeline import timeline_of
from models.settings import get_setting
from reports import customer_export, xlsx

bp = Blueprint("customers", __name__, url_prefix="/customers")

#: Who works with the customer archive.
CUSTOMER_ROLES = ("admin", "manager", "dept_head", "marketer")
#: Who moves customers between owners and the pool.
OWNERSHIP_ROLES = ("admin", "manager", "dept_head")
PER_PAGE = 30


def _status(form):
    return 422 if form.is_submitted() else 200


def _owner(owner_id):
    """The user chosen as an owner, or None for "no choice"."""
    return db.session.get(User, owner_id) if owner_id else None


@bp.get("/")
@role_required(*CUSTOMER_ROLES)
def index():
    """The customer list: one search box, filters, sortable, paginated (htmx updates rows)."""
    rows_only = bool(request.headers.get("HX-Request"))
    form = FilterForm(current_user, request.args, rows_only=rows_only)
    form.validate()
    query = c.find_customers(current_user, form.to_filter())
    page = paginate(query, PER_PAGE, key=c.Customer.id)
    rfm = c.rfm_of(customer.id for customer in page.items)
    if rows_only:
        return render_template("customers/_results.html", page=page, rfm=rfm)
    return render_template("customers/index.html", form=form, page=page, rfm=rfm,
                           invite_form=InviteForm(), bulk=BulkForm(current_user),
                           may_export=c.may_export(current_user),
                           ownership=current_user.has_role(*OWNERSHIP_ROLES))


@bp.route("/new", methods=["GET", "POST"])
@role_required(*CUSTOMER_ROLES)
def new():
    form = CustomerForm(current_user)
    if not form.validate_on_submit():
        return render_template("customers/form.html", form=form, customer=None), _status(form)
    with attempt() as tried:
        customer = c.create_customer(form.to_data(), actor=current_user,
                                     owner=_owner(form.owner_id.data))
        worklists.care(local_day(utcnow()), customer_ids=[customer.id])
    if isinstance(tried.refusal, c.DuplicateCustomer):
        duplicate = _explain_duplicate(tried.refusal, form)
        return render_template("customers/form.html", form=form, customer=None,
                               duplicate=duplicate), tried.status
    if tried.refusal:
        form.add_error(tried.refusal)
        return render_template("customers/form.html", form=form, customer=None), tried.status
    flash(_("Customer %(name)s registered.", name=customer.name), "success")
    return redirect(url_for("customers.show", customer_id=customer.id))


def _explain_duplicate(exc, form):
    """Put a duplicate-mobile refusal on the form, naming the other customer only if the user
    may see them; return that customer (to link) or None."""
    duplicate = _visible_or_none(exc.existing)
    if duplicate is None:
        exc.message = _("This mobile already belongs to a customer of another marketer "
                        "(No. %(id)s). Ask your department head.", id=exc.existing.id)
    form.add_error(exc)
    return duplicate


def _visible_or_none(customer):
    """The customer if the current user may open them (to link a duplicate), else None."""
    try:
        return c.get_customer_or_404(customer.id, current_user)
    except OperationError:  # a read, no transaction: "not yours to see" is an answer here
        return None


@bp.get("/<int:customer_id>")
@role_required(*CUSTOMER_ROLES)
def show(customer_id):
    customer = c.get_customer_or_404(customer_id, current_user)
    return _customer_page(customer, ContactForm())


#: The customer page lists the newest orders (the rest are on the orders screen).
ORDERS_SHOWN = 10


def _customer_page(customer, contact_form, status=200, *, intent_form=None,
                   experience_form=None):
    return render_template("customers/show.html", customer=customer,
                           contact_form=contact_form, action_form=BaseForm(),
                           intent_form=intent_form or IntentForm(), intents=c.INTENTS,
                           experience_form=experience_form or ExperienceForm(),
                           experiences=c.experiences_of(customer),
                           invite_form=InviteForm(), timeline=timeline_of(customer),
                           orders=orders.orders_of_customer(customer, limit=ORDERS_SHOWN),
                           customer_due=orders.customer_due(customer),
                           held=custody.holdings(customer),
                           points_balance=points.balance_of(customer.id),
                           points_expiring=points.expiring(customer.id, local_day(utcnow())),
                           order_event_id=_order_event_id(customer),
                           grade_why=customer_jobs.grade_explained(
                               customer, local_day(utcnow()))[1],
                           figures=_figures(customer),
                           open_tickets=aftersales.open_tickets_of(customer),
                           **_page_flags(customer)), status


def _figures(customer):
    """The customer's lifetime figures and RFM scores, with the days since the last purchase
    (company calendar)."""
    figures = orders.customer_figures(customer)
    last = figures["last_purchase_at"]
    figures["days_since_purchase"] = (local_day(utcnow()) - local_day(last)).days \
        if last else None
    return figures


def _order_event_id(customer):
    """The event a deal taken from this page is made at, for its "New order" link: the one the
    page was opened for (?event_id=), else the one the customer was checked in at today."""
    if not current_user.has_role(*orders.SELLER_ROLES):
        return None
    if (event_id := id_arg("event_id")) is not None:
        return event_id
    event = order_taking.event_attended_today(
        customer, order_taking.events_for_order(customer, current_user))
    return event.id if event else None


def _page_flags(customer):
    return {"referrer": _visible_or_none(customer.referrer) if customer.referrer_id else None,
            "may_see_phone": can_see_full_phone(current_user, owner_id=customer.owner_id,
                                                department_id=customer.department_id),
            "may_edit": customer.status != "pool" and (
                customer.owner_id == current_user.id
                or current_user.has_role(*OWNERSHIP_ROLES)),
            "may_claim": customer.status == "pool" and current_user.has_role("marketer")}


@bp.route("/<int:customer_id>/edit", methods=["GET", "POST"])
@role_required(*CUSTOMER_ROLES)
def edit(customer_id):
    customer = c.get_customer_or_404(customer_id, current_user)
    if not _page_flags(customer)["may_edit"]:
        abort(403)
    form = CustomerForm(current_user, obj=customer)
    if request.method == "GET":  # shown as typed, not as stored
        form.phone.data = customer.phone_national
        form.phone2.data = national_phone(customer.phone2)
        form.family_phone.data = national_phone(customer.family_phone)
        form.channel_id.data = customer.channel_id or 0
        form.tag_ids.data = [t.id for t in customer.tags]
    del form.owner_id  # ownership changes by transfer, not by editing
    if not form.validate_on_submit():
        return render_template("customers/form.html", form=form, customer=customer), \
            _status(form)
    with attempt() as tried:
        c.update_customer(customer, form.to_data(), actor=current_user)
    if isinstance(tried.refusal, c.DuplicateCustomer):
        return render_template("customers/form.html", form=form, customer=customer,
                               duplicate=_explain_duplicate(tried.refusal, form)), tried.status
    if tried.refusal:
        form.add_error(tried.refusal)
        return render_template("customers/form.html", form=form, customer=customer), \
            tried.status
    flash(_("Changes to %(name)s saved.", name=customer.name), "success")
    return redirect(url_for("customers.show", customer_id=customer.id))


@bp.post("/<int:customer_id>/contacts")
@role_required(*CUSTOMER_ROLES)
def add_contact(customer_id):
    customer = c.get_customer_or_404(customer_id, current_user)
    form = ContactForm()
    if form.validate_on_submit():
        with attempt(form) as tried:
            c.record_contact(customer, kind=form.kind.data, content=form.content.data,
                             outcome=form.outcome.data, next_follow_up=form.next_follow_up.data,
                             actor=current_user)
        if not tried.refusal:
            flash(_("Follow-up recorded."), "success")
            return redirect(url_for("customers.show", customer_id=customer.id))
    return _customer_page(customer, form, 422)


@bp.post("/<int:customer_id>/intent")
@role_required(*CUSTOMER_ROLES)
def record_intent(customer_id):
    """The purchase intent (购买意向) heard, from the customer's page."""
    customer = c.get_customer_or_404(customer_id, current_user)
    form = IntentForm()
    if form.validate_on_submit():
        with attempt(form) as tried:
            c.record_intent(customer, form.intent.data, source="customer", actor=current_user,
                            note=form.note.data)
        if not tried.refusal:
            flash(_("Purchase intent recorded."), "success")
            return redirect(url_for("customers.show", customer_id=customer.id))
    return _customer_page(customer, ContactForm(), 422, intent_form=form)


@bp.post("/<int:customer_id>/experiences")
@role_required(*CUSTOMER_ROLES)
def add_experience(customer_id):
    """An experience visit (体验记录): the product tried and how it went."""
    customer = c.get_customer_or_404(customer_id, current_user)
    form = ExperienceForm()
    if form.validate_on_submit():
        with attempt(form) as tried:
            c.record_experience(customer, product=form.product.data, how=form.how.data,
                                day=form.day.data, actor=current_user)
        if not tried.refusal:
            flash(_("Experience visit recorded."), "success")
            return redirect(url_for("customers.show", customer_id=customer.id))
    return _customer_page(customer, ContactForm(), 422, experience_form=form)


@bp.get("/strong-intent")
@role_required(*CUSTOMER_ROLES)
def strong_intent():
    """意向强烈: the customers whose latest purchase intent is strong — a marketer's own, a
    department head's department's (by marketer), everyone's for a manager."""
    marketer = None
    if (marketer_id := id_arg("marketer")) is not None:
        marketer = db.session.scalar(visible_users(current_user).where(User.id == marketer_id))
    rows = c.strong_intent_customers(current_user, owner_id=marketer.id if marketer else None)
    marketers = db.session.scalars(visible_users(current_user).where(User.is_active.is_(True))
                                   .order_by(User.display_name)).all() \
        if current_user.has_role(*OWNERSHIP_ROLES) else []
    return render_template("customers/strong_intent.html", rows=rows, marketer=marketer,
                           marketers=[m for m in marketers if m.has_role("marketer")])


@bp.post("/<int:customer_id>/phone")
@role_required(*CUSTOMER_ROLES)
def reveal_phone(customer_id):
    """Show the full number (htmx), recording that the user looked."""
    customer = c.get_customer_or_404(customer_id, current_user)
    if not BaseForm().validate_on_submit():
        abort(400)
    phone, phone2 = c.reveal_phone(customer, actor=current_user, ip=request.remote_addr)
    db.session.commit()
    return render_template("customers/_phone.html", customer=customer, phone=phone,
                           phone2=phone2)


@bp.post("/<int:customer_id>/claim")
@role_required("marketer")
def claim(customer_id):
    customer = c.get_customer_or_404(customer_id, current_user)
    if not BaseForm().validate_on_submit():
        abort(400)
    run_operation(lambda: c.claim_from_pool(customer, actor=current_user),
                  _("%(name)s is now your customer.", name=customer.name))
    return redirect(safe_next(request.form.get("back"),
                              url_for("customers.show", customer_id=customer.id)))


@bp.post("/bulk")
@role_required(*OWNERSHIP_ROLES)
def bulk():
    """Transfer, release to the pool, or assign from it, the customers ticked in the list."""
    form = BulkForm(current_user)
    back = safe_next(request.form.get("back"), url_for("customers.index"))
    if not form.validate_on_submit():
        flash(error_text(form), "danger")
        return redirect(back)
    ids = form.customer_ids()
    operations = {
        "transfer": lambda: c.transfer_customers(ids, _owner(form.to_owner_id.data),
                                                 actor=current_user, reason=form.reason.data),
        "release": lambda: c.release_to_pool(ids, actor=current_user, reason=form.reason.data),
        "assign": lambda: c.assign_from_pool(ids, _owner(form.to_owner_id.data),
                                             actor=current_user, reason=form.reason.data),
    }
    if form.action.data not in operations:
        abort(400)
    with attempt(flash=True) as tried:
        if not ids:
            raise InvalidInput(_("Tick at least one customer first."))
        count = operations[form.action.data]()
    if tried.refusal:
        return redirect(back)
    flash({"transfer": _("%(n)s customers transferred.", n=count),
           "release": _("%(n)s customers released to the public pool.", n=count),
           "assign": _("%(n)s customers assigned.", n=count)}[form.action.data], "success")
    return redirect(back)


@bp.route("/handover", methods=["GET", "POST"])
@role_required(*OWNERSHIP_ROLES)
def handover():
    """Hand a leaving marketer's whole book to another marketer (离职交接)."""
    form = HandoverForm(current_user)
    counts = dict(db.session.execute(
        select(c.Customer.owner_id, func.count(c.Customer.id))
        .where(c.Customer.owner_id.in_(visible_users(current_user).with_only_columns(User.id)))
        .group_by(c.Customer.owner_id)).all())
    if not form.validate_on_submit():
        return render_template("customers/handover.html", form=form, counts=counts), \
            _status(form)
    from_owner = db.session.scalar(visible_users(current_user).where(
        User.id == form.from_owner_id.data))
    with attempt(form) as tried:
        if from_owner is None:
            raise NotFound(_("Choose the marketer whose customers are handed over."))
        moved = c.transfer_book(from_owner, _owner(form.to_owner_id.data), actor=current_user,
                                reason=form.reason.data)
    if tried.refusal:
        return render_template("customers/handover.html", form=form, counts=counts), \
            tried.status
    flash(_("%(n)s customers of %(name)s handed over.", n=moved, name=from_owner.display_name),
          "success")
    return redirect(url_for("customers.index", owner_id=form.to_owner_id.data))


@bp.get("/pool")
@role_required(*CUSTOMER_ROLES)
def pool():
    """The public pool (公海): customers nobody owns, to claim or assign."""
    rows_only = bool(request.headers.get("HX-Request"))
    form = FilterForm(current_user, request.args, rows_only=rows_only)
    form.validate()
    filters = form.to_filter()
    filters.status, filters.owner_id = "pool", None
    page = paginate(c.find_customers(current_user, filters), PER_PAGE, key=c.Customer.id)
    rfm = c.rfm_of(customer.id for customer in page.items)
    if rows_only:  # a search typed into the pool's box (htmx): its rows only
        return render_template("customers/_results.html", page=page, rfm=rfm)
    stats = None
    if current_user.has_role("marketer"):
        from models.settings import get_setting
        stats = {"claimed": c.claims_today(current_user),
                 "limit": get_setting("customers.claims_per_day"),
                 "owned": c.owned_count(current_user),
                 "cap": get_setting("customers.max_owned")}
    return render_template("customers/pool.html", form=form, page=page, stats=stats, rfm=rfm,
                           bulk=BulkForm(current_user), action_form=BaseForm(),
                           invite_form=InviteForm(),
                           ownership=current_user.has_role(*OWNERSHIP_ROLES))


@bp.post("/export.xlsx")
@role_required(*CUSTOMER_ROLES)
def export():
    """The filtered list as .xlsx (a POST: it writes an audit entry)."""
    if not BaseForm().validate_on_submit():
        abort(400)
    form = FilterForm(current_user, request.form)
    form.validate()
    query = c.find_customers(current_user, form.to_filter())
    count = db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    if count > get_setting("imports.background_rows"):  # a long list: written in the background
        with attempt() as tried:
            run = customer_export.enqueue(form.to_filter(), actor=current_user, count=count)
        if tried.refusal:
            abort(tried.status)
        return redirect(url_for("runs.show", token=run.token))
    rows = imports.export_rows(query, actor=current_user)
    # Streamed: the customers are read in batches into a temporary file, sent from there.
    content, count = xlsx.stream_workbook(_("Customers"), imports.EXPORT_COLUMNS, rows)
    imports.audit_export(current_user, count)
    db.session.commit()
    return send_download(content, file_name(_("Customers"), f"{utcnow():%Y%m%d-%H%M}",
                                            ext=".xlsx"))


@bp.get("/import/template.xlsx")
@role_required(*CUSTOMER_ROLES)
def import_template():
    return send_download(xlsx.write_workbook(*imports.template_sheet()),
                         file_name(_("Customer import template"), ext=".xlsx"))


@bp.route("/import", methods=["GET", "POST"])
@role_required(*CUSTOMER_ROLES)
def import_upload():
    form = ImportUploadForm()
    if not form.validate_on_submit():
        return render_template("customers/import_upload.html", form=form), _status(form)
    upload = form.file.data
    with attempt(form) as tried:
        batch = imports.upload(upload.filename, upload.read(), actor=current_user)
    if tried.refusal:
        return render_template("customers/import_upload.html", form=form), tried.status
    return redirect(url_for("customers.import_map", token=batch.token))


@bp.route("/import/<token>/map", methods=["GET", "POST"])
@role_required(*CUSTOMER_ROLES)
def import_map(token):
    batch = imports.get_batch_or_404(token, current_user)
    if batch.status != "uploaded":
        return redirect(url_for("customers.import_preview", token=token))
    form = BaseForm()
    error = None
    if form.validate_on_submit():
        mapping = {}
        for f in imports.IMPORT_FIELDS:
            value = request.form.get(f"col_{f.key}", "")
            if value.isdecimal() and value.isascii() and len(value) <= 4:
                mapping[f.key] = int(value)
        with attempt() as tried:
            imports.set_mapping(batch, mapping)
            run = _check_in_background(batch)
        if tried.refusal:
            error = tried.refusal.message
        elif run is not None:
            return redirect(url_for("runs.show", token=run.token))
        else:
            return redirect(url_for("customers.import_preview", token=token))
    return render_template("customers/import_map.html", batch=batch, form=form, error=error,
                           fields=imports.IMPORT_FIELDS), 422 if error else 200


IMPORT_RUNS = ("customer_import_dry_run", "customer_import")


def _large(batch):
    return batch.row_count > get_setting("imports.background_rows")


def _check_in_background(batch):
    """A dry run of a large file, queued (None for a small one: the page checks it)."""
    if not _large(batch):
        return None
    return background.enqueue("customer_import_dry_run", actor=current_user,
                              batch_id=batch.id, rows_total=batch.row_count,
                              params={"mapping": batch.mapping})


@bp.route("/import/<token>", methods=["GET", "POST"])
@role_required(*CUSTOMER_ROLES)
def import_preview(token):
    """The dry run, row by row; POST confirms the import (all or nothing). A file larger than
    the setting is checked and imported in the background (models/background.py)."""
    batch = imports.get_batch_or_404(token, current_user)
    form = BaseForm()
    if batch.status == "done":
        return render_template("customers/import_done.html", batch=batch)
    if _large(batch):
        return _large_import(batch, form)
    error = None
    if form.validate_on_submit():
        with attempt() as tried:
            counts = imports.confirm(batch, actor=current_user)
            # A birthday within the care lead gets its task today, not never.
            worklists.care(local_day(utcnow()), customer_ids=counts["ids"])
        if tried.refusal:
            error = tried.refusal.message
        else:
            flash(_("%(created)s customers imported; %(duplicates)s already existed.",
                    created=counts["create"], duplicates=counts["duplicate"]), "success")
            return redirect(url_for("customers.import_preview", token=token))
    try:
        results = imports.dry_run(batch, actor=current_user)
    except OperationError as exc:  # a read (it writes nothing): no transaction to end
        flash(exc.message, "danger")
        return redirect(url_for("customers.import_map", token=token))
    return render_template("customers/import_preview.html", batch=batch, form=form,
                           results=results, counts=imports.summarise(results), error=error), \
        422 if error else 200


def _large_import(batch, form):
    """A large file: its dry run and its import are background runs; the page shows the
    finished dry run's rows (those worth a look) and queues the import."""
    latest = background.latest_run(IMPORT_RUNS, batch.id)
    if latest is not None and latest.state in ("queued", "running") and \
            not background.status_of(latest).stale:
        return redirect(url_for("runs.show", token=latest.token))
    if form.validate_on_submit():
        kind = "customer_import_dry_run" if request.form.get("action") == "check" \
            else "customer_import"
        with attempt():
            run = background.enqueue(kind, actor=current_user, batch_id=batch.id,
                                     rows_total=batch.row_count,
                                     params={"mapping": batch.mapping})
        return redirect(url_for("runs.show", token=run.token))
    checked = background.latest_run(IMPORT_RUNS[:1], batch.id)
    if checked is None or checked.state != "done" or \
            checked.result.get("mapping") != batch.mapping:
        return render_template("customers/import_large.html", batch=batch, form=form,
                               failed=checked if checked and checked.state == "failed"
                               else None)
    error = latest.error if latest.kind == "customer_import" and latest.state == "failed" \
        else None
    return render_template("customers/import_preview.html", batch=batch, form=form,
                           results=checked.result["rows"], counts=checked.result["counts"],
                           error=error, checked=checked), 422 if error else 200


@bp.get("/imports")
@role_required(*CUSTOMER_ROLES)
def import_records():
    """导入记录: the user's customer imports, with their background runs."""
    batches = imports.batches_of(current_user)
    runs = {}
    for run in background.runs_for(IMPORT_RUNS, [b.id for b in batches]):
        runs.setdefault(run.batch_id, run)  # the newest
    return render_template("customers/import_records.html", batches=batches, runs=runs,
                           exports=background.runs_for(["customer_export"], actor=current_user,
                                                       limit=20))


@bp.route("/lists", methods=["GET", "POST"])
@role_required("admin", "manager")
def lists():
    """The managed lists: source channels and tags."""
    form = ListsForm()
    if form.validate_on_submit():
        with attempt(form) as tried:
            c.add_list_item(form.kind.data, form.name.data, actor=current_user)
        if not tried.refusal:
            flash(_("%(name)s added.", name=form.name.data), "success")
            return redirect(url_for("customers.lists"))
    return render_template("customers/lists.html", form=form,
                           channels=db.session.scalars(select(c.Channel).order_by(
                               c.Channel.sort, c.Channel.name)).all(),
                           tags=db.session.scalars(select(c.Tag).order_by(c.Tag.name)).all()), \
        422 if form.errors else 200


@bp.post("/lists/<kind>/<int:item_id>/toggle")
@role_required("admin", "manager")
def toggle_list_item(kind, item_id):
    if not BaseForm().validate_on_submit():
        abort(400)
    item = c.toggle_list_item(kind, item_id, actor=current_user)
    db.session.commit()
    flash(_("%(name)s is in use.", name=item.name) if item.is_active
          else _("%(name)s is no longer offered.", name=item.name), "success")
    return redirect(url_for("customers.lists"))


# --- Campaign costs per source channel (渠道营销费用) --------------------------------------------

@bp.route("/channel-costs", methods=["GET", "POST"])
@role_required(*c.COST_ROLES)
def channel_costs():
    """Enter what a channel cost in a month; the year's costs per channel and month, and its
    entries with their reversals."""
    form = ChannelCostForm()
    if form.validate_on_submit():
        with attempt(form) as tried:
            entry = c.record_channel_cost(form.channel_id.data, month=form.month.data,
                                          amount_fen=form.amount_fen(), note=form.note.data,
                                          actor=current_user, token=form.token.data)
        if not tried.refusal:
            flash(_("Campaign cost of %(channel)s for %(month)s entered.",
                    channel=entry.channel.name, month=f"{entry.month:%Y-%m}"), "success")
            return redirect(url_for("customers.channel_costs", year=entry.month.year))
    year = id_arg("year") or local_day(utcnow()).year
    year = year if 2000 <= year <= 2999 else local_day(utcnow()).year
    return _channel_costs_page(form, year), _status(form)


def _channel_costs_page(form, year):
    first, last = date(year, 1, 1), date(year, 12, 1)
    totals = c.monthly_channel_costs(first, last)
    used = {channel_id for channel_id, _month in totals}
    channels = db.session.scalars(select(c.Channel).where(
        c.Channel.is_active | c.Channel.id.in_(used)).order_by(c.Channel.sort,
                                                                c.Channel.name)).all()
    return render_template("customers/channel_costs.html", form=form, year=year,
                           months=[date(year, n, 1) for n in range(1, 13)], totals=totals,
                           channels=channels, entries=c.channel_cost_entries(first, last),
                           reverse_form=ReverseChannelCostForm())


@bp.post("/channel-costs/<int:channel_cost_id>/reverse")
@role_required(*c.COST_ROLES)
def reverse_channel_cost(channel_cost_id):
    """Take back a wrongly entered campaign cost (红冲), with the reason."""
    entry = db.session.get(c.ChannelCost, channel_cost_id)
    if entry is None:
        abort(404)
    back = url_for("customers.channel_costs", year=entry.month.year)
    form = ReverseChannelCostForm()
    if not form.validate_on_submit():
        flash(error_text(form), "danger")
        return redirect(back)
    run_operation(lambda: c.reverse_channel_cost(entry, reason=form.reason.data,
                                                 actor=current_user),
                  _("The entry is reversed; enter the right amount anew if there is one."))
    return redirect(back)

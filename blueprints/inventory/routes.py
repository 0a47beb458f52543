"""The warehouse: stock on hand, products, warehouses, receipts, transfers, scraps, stock counts,
expiry and low-stock lists, the day's moves."""
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from blueprints.access import role_required
from blueprints.files import file_name, send_download
from blueprints.forms import attempt, error_text, id_arg, paginate, run_operation
from blueprints.inventory.forms import (CountedForm, PostCountForm, ProductForm, ReceiptForm,
                                        ReverseForm, ScrapForm, StartCountForm, TransferForm,
                                        WarehouseForm)
from extensions import db
from formatting import local_day, parse_day
from models import inventory as inv
from models.base import NotFound, utcnow
from models.settings import get_setting
from reports import stock_slip

bp = Blueprint("inventory", __name__, url_prefix="/inventory")

#: Who sees the warehouse (finance reconciles against it) and who changes it.
VIEW = ("admin", "manager", "warehouse", "finance")
WRITE = ("admin", "manager", "warehouse")


def _status(form):
    return 422 if form.is_submitted() else 200


def _warehouse_arg():
    warehouse_id = id_arg("warehouse")
    return db.session.get(inv.Warehouse, warehouse_id) if warehouse_id else None


def _day_arg():
    """The day whose moves to list: today when absent, not a date or outside 2000–2100."""
    try:
        day = parse_day(request.args.get("day"))
    except ValueError:
        day = None
    return day if day and 2000 <= day.year <= 2100 else local_day(utcnow())


#: Stock-on-hand rows on one page (a big warehouse has thousands of batches).
SHOWN_ROWS = 200

# --- Stock on hand and the lists -------------------------------------------------------------

@bp.get("/")
@role_required(*VIEW)
def index():
    """Stock on hand: by batch, or (view=products) per product what is on hand, promised to
    customers in custody and free to sell."""
    warehouse = _warehouse_arg()
    text = request.args.get("q", "").strip()[:60]
    by_product = request.args.get("view") == "products"
    if by_product:
        rows = inv.free_to_sell(warehouse, text_clause=inv.product_search_clause(text))
        totals = {key: sum(r[key] for r in rows) for key in ("on_hand", "promised", "free")}
    else:
        rows = inv.stock_on_hand(warehouse, text_clause=inv.product_search_clause(text))
        totals = inv.totals(rows)
    # The totals cover every row; the page shows SHOWN_ROWS of them at a time.
    pages = max(1, -(-len(rows) // SHOWN_ROWS))
    page = min(max(id_arg("page") or 1, 1), pages)
    return render_template("inventory/index.html",
                           rows=rows[(page - 1) * SHOWN_ROWS:page * SHOWN_ROWS],
                           totals=totals, count=len(rows), page=page, pages=pages,
                           warehouse=warehouse, warehouses=inv.warehouses(False), text=text,
                           today=local_day(utcnow()), by_product=by_product,
                           shortfall=inv.shortfalls())


@bp.get("/shortfalls")
@role_required(*VIEW)
def shortfalls():
    """The nightly list of products whose free stock is below what custody promised."""
    try:
        day = parse_day(request.args.get("day")) if request.args.get("day") else None
    except ValueError:
        day = None
    day, rows = inv.shortfalls(day)
    return render_template("inventory/shortfalls.html", day=day, rows=rows)


@bp.get("/expiry")
@role_required(*VIEW)
def expiry():
    days = id_arg("days") or None
    days = min(days, 3650) if days else None
    near, expired = inv.expiring(local_day(utcnow()), within_days=days,
                                 warehouse=_warehouse_arg())
    return render_template("inventory/expiry.html", near=near, expired=expired,
                           days=days or get_setting("inventory.near_expiry_days"),
                           warehouse=_warehouse_arg(), warehouses=inv.warehouses(False))


@bp.get("/low-stock")
@role_required(*VIEW)
def low_stock():
    return render_template("inventory/low_stock.html", rows=inv.below_threshold())


@bp.get("/moves")
@role_required(*VIEW)
def moves():
    day = _day_arg()
    reason = request.args.get("reason", "")
    reason = reason if reason in inv.REASONS else ""
    warehouse = _warehouse_arg()
    page = paginate(inv.moves_query(day=day, reason=reason or None, warehouse=warehouse), 100)
    return render_template("inventory/moves.html", page=page, day=day, reason=reason,
                           warehouse=warehouse, warehouses=inv.warehouses(False))


# --- Products --------------------------------------------------------------------------------

@bp.get("/products")
@role_required(*VIEW)
def products():
    text = request.args.get("q", "").strip()[:60]
    flag = request.args.get("kind", "")
    show_all = request.args.get("all") == "1"
    page = paginate(inv.find_products(text, active_only=not show_all,
                                      flag=flag if flag in inv.PRODUCT_FLAGS else None), 50)
    return render_template("inventory/products.html", page=page, text=text, flag=flag,
                           show_all=show_all)


@bp.route("/products/new", methods=["GET", "POST"])
@role_required(*WRITE)
def new_product():
    form = ProductForm()
    if form.validate_on_submit():
        with attempt(form) as tried:
            product = inv.create_product(form.data_for_operation(), actor=current_user)
        if not tried.refusal:
            flash(_("Product %(name)s added.", name=product.name), "success")
            return redirect(url_for("inventory.product", product_id=product.id))
    return render_template("inventory/product_form.html", form=form, product=None,
                           categories=inv.categories()), _status(form)


@bp.get("/products/<int:product_id>")
@role_required(*VIEW)
def product(product_id):
    item = inv.get_product_or_404(product_id)
    page = paginate(inv.moves_query(product=item), 50)
    return render_template("inventory/product.html", product=item,
                           stock=inv.stock_on_hand(product=item),
                           history=inv.price_history(item), page=page)


@bp.route("/products/<int:product_id>/edit", methods=["GET", "POST"])
@role_required(*WRITE)
def edit_product(product_id):
    item = inv.get_product_or_404(product_id)
    form = ProductForm()
    if not form.is_submitted():
        form.fill_from(item)
    elif form.validate():
        with attempt(form) as tried:
            inv.update_product(item, form.data_for_operation(), actor=current_user)
        if not tried.refusal:
            flash(_("Product %(name)s saved.", name=item.name), "success")
            return redirect(url_for("inventory.product", product_id=item.id))
    return render_template("inventory/product_form.html", form=form, product=item,
                           categories=inv.categories()), _status(form)


# --- Warehouses ------------------------------------------------------------------------------

@bp.get("/warehouses")
@role_required(*VIEW)
def warehouses():
    return render_template("inventory/warehouses.html", warehouses=inv.warehouses(False))


@bp.route("/warehouses/new", methods=["GET", "POST"])
@role_required(*WRITE)
def new_warehouse():
    return _warehouse_form(None)


@bp.route("/warehouses/<int:warehouse_id>/edit", methods=["GET", "POST"])
@role_required(*WRITE)
def edit_warehouse(warehouse_id):
    return _warehouse_form(inv.get_warehouse_or_404(warehouse_id))


def _warehouse_form(warehouse):
    form = WarehouseForm(obj=warehouse)
    if form.validate_on_submit():
        data = {key: getattr(form, key).data for key in ("code", "name", "kind", "address",
                                                         "is_active", "custody_mode")}
        with attempt(form) as tried:
            if warehouse is None:
                inv.create_warehouse(data, actor=current_user)
            else:
                inv.update_warehouse(warehouse, data, actor=current_user)
        if not tried.refusal:
            flash(_("Warehouse saved."), "success")
            return redirect(url_for("inventory.warehouses"))
    return render_template("inventory/warehouse_form.html", form=form,
                           warehouse=warehouse), _status(form)


# --- Documents -------------------------------------------------------------------------------

DOCUMENT_FORMS = {"receipt": ReceiptForm, "transfer": TransferForm, "scrap": ScrapForm}


@bp.get("/documents")
@role_required(*VIEW)
def documents():
    kind = request.args.get("kind", "")
    query = select(inv.StockDocument).order_by(inv.StockDocument.created_at.desc(),
                                               inv.StockDocument.id.desc())
    if kind in inv.DOCUMENT_KINDS:
        query = query.where(inv.StockDocument.kind == kind)
    return render_template("inventory/documents.html", page=paginate(query, 50), kind=kind)


@bp.route("/documents/new/<kind>", methods=["GET", "POST"])
@role_required(*WRITE)
def new_document(kind):
    if kind not in DOCUMENT_FORMS:
        raise NotFound(_("No such document."))
    form = DOCUMENT_FORMS[kind]()
    status = _status(form)
    if form.validate_on_submit() and (lines := form.operation_lines(kind == "receipt")) \
            is not None:
        warehouse = db.session.get(inv.Warehouse, form.warehouse_id.data or 0)
        with attempt() as tried:
            if kind == "receipt":
                document = inv.create_receipt(
                    warehouse=warehouse, lines=lines, supplier=form.supplier.data,
                    note=form.note.data, actor=current_user, token=form.token.data,
                    confirm_short_dated=form.confirm_short_dated.data)
            elif kind == "transfer":
                document = inv.create_transfer(
                    warehouse=warehouse, lines=lines, note=form.note.data, actor=current_user,
                    to_warehouse=db.session.get(inv.Warehouse, form.to_warehouse_id.data or 0),
                    token=form.token.data,
                    confirm_below_promise=form.confirm_below_promise.data)
            else:
                document = inv.create_scrap(warehouse=warehouse, lines=lines,
                                            note=form.note.data, actor=current_user,
                                            token=form.token.data,
                                            confirm_below_promise=form.confirm_below_promise.data)
        if tried.refusal:
            _place_line_error(form, tried.refusal)
            status = tried.status
        else:
            flash(_("%(number)s saved.", number=document.number), "success")
            return redirect(url_for("inventory.document", document_id=document.id))
    products = db.session.scalars(inv.find_products()).all()
    return render_template("inventory/document_form.html", form=form, kind=kind,
                           products=products), status


def _place_line_error(form, exc):
    """An error on "lines-2-quantity" goes under that field of the third line."""
    parts = (exc.field or "").split("-")
    if len(parts) == 3 and parts[0] == "lines" and parts[1].isdecimal() and \
            int(parts[1]) < len(form.lines.entries):
        line = form.lines.entries[int(parts[1])].form
        field = line._fields.get(parts[2]) or line.quantity
        field.errors = [*field.errors, exc.message]
        form.form_errors.append(exc.message)
    else:
        form.add_error(exc)


@bp.get("/documents/<int:document_id>")
@role_required(*VIEW)
def document(document_id):
    item = inv.get_document_or_404(document_id)
    return render_template("inventory/document.html", document=item,
                           moves=inv.document_moves(item), reversed=inv.is_reversed(item),
                           reverse_form=ReverseForm())


@bp.get("/documents/<int:document_id>/slip.pdf")
@role_required(*VIEW)
def document_slip(document_id):
    item = inv.get_document_or_404(document_id)
    pdf = stock_slip.build(stock_slip.gather(item, printed_by=current_user.display_name))
    return send_download(pdf, file_name(_("Stock document"), item.number, ext=".pdf"))


@bp.post("/documents/<int:document_id>/reverse")
@role_required(*WRITE)
def reverse_document(document_id):
    item = inv.get_document_or_404(document_id)
    form = ReverseForm()
    if not form.validate_on_submit():
        flash(error_text(form), "danger")
    else:
        run_operation(lambda: inv.reverse_document(item, actor=current_user,
                                                   note=form.note.data),
                      _("%(number)s reversed.", number=item.number))
    return redirect(url_for("inventory.document", document_id=item.id))


# --- Stock counts ----------------------------------------------------------------------------

@bp.get("/counts")
@role_required(*VIEW)
def counts():
    return render_template("inventory/counts.html", page=paginate(inv.counts(), 30),
                           form=StartCountForm())


@bp.post("/counts")
@role_required(*WRITE)
def start_count():
    form = StartCountForm()
    if not form.validate_on_submit():
        return render_template("inventory/counts.html", page=paginate(inv.counts(), 30),
                               form=form), 422
    warehouse = db.session.get(inv.Warehouse, form.warehouse_id.data or 0)
    with attempt(form) as tried:
        count = inv.start_count(warehouse, actor=current_user, token=form.token.data,
                                note=form.note.data)
    if tried.refusal:
        return render_template("inventory/counts.html", page=paginate(inv.counts(), 30),
                               form=form), tried.status
    return redirect(url_for("inventory.count", count_id=count.id))


@bp.get("/counts/<int:count_id>")
@role_required(*VIEW)
def count(count_id):
    item = inv.get_count_or_404(count_id)
    text = request.args.get("q", "").strip()[:60]
    only = request.args.get("only", "")
    only = only if only in ("uncounted", "differences") else None
    error = None
    try:
        lines = inv.find_count_lines(item, text) if only is None else \
            inv.count_lines(item, text, only=only)
    except NotFound as exc:
        lines, error = [], exc.message
    context = {"count": item, "lines": lines, "text": text, "only": only, "error": error,
               "progress": inv.progress(item), "post_form": PostCountForm()}
    if request.headers.get("HX-Request") and request.args.get("fragment") == "lines":
        return render_template("inventory/_count_lines.html", **context)
    return render_template("inventory/count.html", **context)


@bp.post("/counts/<int:count_id>/lines/<int:line_id>")
@role_required(*WRITE)
def count_line(count_id, line_id):
    """One counted quantity (htmx: the row comes back, saved or with its error)."""
    item = inv.get_count_or_404(count_id)
    form = CountedForm()
    error, status = None, 200
    if not form.validate_on_submit():
        error, status = error_text(form), 422
    else:
        with attempt() as tried:
            inv.enter_counted(item, line_id, form.counted.data, actor=current_user)
        if tried.refusal:
            error, status = tried.refusal.message, tried.status
    line = db.session.get(inv.StockCountLine, line_id)
    if line is None or line.count_id != item.id:
        raise NotFound(_("That line is not on this count: a product not in the warehouse "
                         "cannot be counted here."))
    if not request.headers.get("HX-Request"):
        if error:
            flash(error, "danger")
        return redirect(url_for("inventory.count", count_id=item.id))
    return render_template("inventory/_count_line.html", count=item, line=line, line_error=error,
                           submitted=request.form.get("counted", "")), status


@bp.post("/counts/<int:count_id>/post")
@role_required(*WRITE)
def post_count(count_id):
    item = inv.get_count_or_404(count_id)
    form = PostCountForm()
    if form.validate_on_submit():
        run_operation(lambda: inv.post_count(item, actor=current_user,
                                             uncounted_as_book=form.uncounted_as_book.data),
                      lambda moves: _("%(number)s posted: %(n)s differences adjusted.",
                                      number=item.number, n=len(moves)))
    return redirect(url_for("inventory.count", count_id=item.id))


@bp.post("/counts/<int:count_id>/cancel")
@role_required(*WRITE)
def cancel_count(count_id):
    item = inv.get_count_or_404(count_id)
    if PostCountForm().validate_on_submit():
        run_operation(lambda: inv.cancel_count(item, actor=current_user),
                      _("%(number)s cancelled.", number=item.number))
    return redirect(url_for("inventory.count", count_id=item.id))

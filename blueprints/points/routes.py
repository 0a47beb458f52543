"""Points at the counter: a customer's points (balance, what expires soon, history, referrals),
redemption on a tablet with a printed slip, a manager's adjustment and reversal, the points
liability for finance."""
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from blueprints.access import role_required
from blueprints.files import file_name, send_download
from blueprints.forms import BaseForm, attempt, error_text, refusal_status
from blueprints.points.forms import AdjustForm, ReasonForm, RedeemForm, TokenForm
from extensions import db
from formatting import local_day
from models import custody as cu, customers as c, inventory as inv, points as pt, redemptions
from models import referrals as ref
from models.base import NotFound, new_token, utcnow
from reports import points_slip

bp = Blueprint("points", __name__, url_prefix="/points")

VIEW = ("admin", "manager", "dept_head", "marketer", "warehouse", "event_staff", "finance")
REDEEM = ("manager", "warehouse", "event_staff", "marketer", "dept_head")


def _customer(customer_id):
    return cu.get_holder_or_404(customer_id, current_user)


@bp.get("/")
@role_required(*REDEEM)
def index():
    text = request.args.get("q", "").strip()[:40]
    found = []
    if text and (clause := c.search_clause(text)) is not None:
        found = db.session.scalars(cu.custody_customers(current_user).where(clause)
                                   .order_by(c.Customer.name_pinyin).limit(20)).all()
    balances = {person.id: pt.balance_of(person.id) for person in found}
    template = "points/_found.html" if request.headers.get("HX-Request") else "points/index.html"
    return render_template(template, found=found, balances=balances, text=text)


@bp.get("/customers/<int:customer_id>")
@role_required(*VIEW)
def customer(customer_id):
    person = _customer(customer_id)
    return _customer_page(person)


def _customer_page(person, status=200, error=None, below_promise=False):
    today = local_day(utcnow())
    account = db.session.get(pt.PointsAccount, person.id)
    redeemable = db.session.scalars(inv.find_products(flag="redeemable")).all()
    referrals, rewards = ref.referrals_of(person), ref.rewards_of(person)
    # The friends this customer brought are named only where the user may see them.
    named = cu.seen_customer_ids(current_user, [friend.id for friend, _came, _bought in referrals]
                                 + [reward.referred_id for reward in rewards])
    return render_template(
        "points/customer.html", customer=person, balance=account.balance if account else 0,
        debt=account.debt if account else 0, expiring=pt.expiring(person.id, today),
        history=pt.history(person.id), referrals=referrals, rewards=rewards, named=named,
        form=BaseForm(),
        token=new_token(), redeemable=redeemable, error=error, below_promise=below_promise,
        stock={p.id: sum(inv.quantity_in(inv.location_of(w), p) for w in inv.warehouses())
               for p in redeemable}, warehouses=inv.warehouses()), status


@bp.post("/customers/<int:customer_id>/redeem")
@role_required(*REDEEM)
def redeem(customer_id):
    person = _customer(customer_id)
    form = RedeemForm()
    if not form.validate_on_submit():
        return _customer_page(person, refusal_status(form), error_text(form))
    items = []
    for product_id, quantity in sorted(form.items.data.items()):
        product = db.session.get(inv.Product, product_id)
        if product is None:
            raise NotFound(_("No such product."))
        items.append((product, quantity))
    warehouse = db.session.get(inv.Warehouse, form.warehouse_id.data)
    if warehouse is None:
        return _customer_page(person, 422, _("Choose a warehouse."))
    with attempt() as tried:
        redemption = redemptions.redeem(person, items, warehouse=warehouse, actor=current_user,
                                        token=form.token.data,
                                        in_custody=form.in_custody.data == "1",
                                        confirm_below_promise=form.confirm_below_promise.data)
    if tried.refusal:  # below what is promised: the same form again, with the box to tick
        return _customer_page(person, tried.status, tried.refusal.message,
                              below_promise=isinstance(tried.refusal, inv.BelowPromise))
    flash(_("Redeemed %(n)s points: slip %(number)s.", n=redemption.points,
            number=redemption.number), "success")
    return redirect(url_for("points.redemption", redemption_id=redemption.id))


@bp.post("/referral-rewards/<int:reward_id>/give")
@role_required(*REDEEM)
def give_referral_gift(reward_id):
    reward = db.session.get(ref.ReferralReward, reward_id) if reward_id < 2**31 else None
    if reward is None:
        raise NotFound(_("Not found, or not yours to see."))
    person = _customer(reward.referrer_id)
    form = TokenForm()
    if not form.validate_on_submit():
        return _customer_page(person, refusal_status(form), error_text(form))
    with attempt() as tried:
        ref.give_referral_gift(reward, actor=current_user, token=form.token.data)
    if tried.refusal:
        return _customer_page(person, tried.status, tried.refusal.message)
    flash(_("The referral gift was given."), "success")
    return redirect(url_for("points.customer", customer_id=person.id))


@bp.post("/customers/<int:customer_id>/adjust")
@role_required("manager")
def adjust(customer_id):
    person = _customer(customer_id)
    form = AdjustForm()
    if not form.validate_on_submit():
        return _customer_page(person, refusal_status(form), error_text(form))
    with attempt() as tried:
        pt.adjust(person, form.points.data, reason=form.reason.data or "",
                  actor=current_user, token=form.token.data)
    if tried.refusal:
        return _customer_page(person, tried.status, tried.refusal.message)
    flash(_("Points adjusted."), "success")
    return redirect(url_for("points.customer", customer_id=person.id))


def _redemption_or_404(redemption_id):
    record = db.session.get(pt.Redemption, redemption_id) if redemption_id < 2**31 else None
    if record is None:
        raise NotFound(_("Not found, or not yours to see."))
    _customer(record.customer_id)
    return record


@bp.get("/redemptions/<int:redemption_id>")
@role_required(*VIEW)
def redemption(redemption_id):
    record = _redemption_or_404(redemption_id)
    moves = db.session.scalars(select(inv.StockMove).where(
        inv.StockMove.document_type == "points_redemptions",
        inv.StockMove.document_id == record.id).order_by(inv.StockMove.id)).all()
    return render_template("points/redemption.html", redemption=record, moves=moves,
                           balance=pt.balance_of(record.customer_id), form=BaseForm())


@bp.get("/redemptions/<int:redemption_id>/slip.pdf")
@role_required(*VIEW)
def slip(redemption_id):
    record = _redemption_or_404(redemption_id)
    pdf = points_slip.build(points_slip.gather(record, printed_by=current_user.display_name))
    return send_download(pdf, file_name(_("Redemption slip"), record.number, ext=".pdf"))


@bp.post("/redemptions/<int:redemption_id>/reverse")
@role_required("manager")
def reverse(redemption_id):
    record = _redemption_or_404(redemption_id)
    form = ReasonForm()
    if not form.validate_on_submit():
        flash(error_text(form), "danger")
    else:
        with attempt(flash=True) as tried:
            redemptions.reverse_redemption(record, reason=form.reason.data or "",
                                           actor=current_user)
        if not tried.refusal:
            flash(_("Redemption reversed: points and goods are back."), "success")
    return redirect(url_for("points.redemption", redemption_id=record.id))


@bp.get("/liability")
@role_required("finance", "manager")
def liability():
    return render_template("points/liability.html", figures=pt.liability())

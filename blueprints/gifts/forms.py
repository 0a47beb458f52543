"""Forms of gift control."""
from flask_babel import lazy_gettext as _l, lazy_pgettext as _lp
from wtforms import BooleanField, SelectField, SelectMultipleField, StringField
from wtforms.validators import InputRequired, Length, NumberRange, Optional

from blueprints.forms import BaseForm, IdField, IntegerField, MoneyField, TokenField, choices
from models import gifts as g, inventory as inv, orders as o


class RuleForm(BaseForm):
    kind = SelectField(_l("Kind"), choices=choices(g.RULE_KINDS.items()))
    name = StringField(_lp("thing", "Name"), validators=[Optional(), Length(max=60)])
    product_id = SelectField(_l("Gift"), coerce=int)
    quantity = IntegerField(_l("Quantity"), default=1, validators=[
        InputRequired(_l("Give at least one.")),
        NumberRange(min=1, max=1000, message=_l("Give at least one."))])
    attendance_for = SelectField(_l("For"), choices=choices(g.ATTENDANCE_FOR.items()))
    companion_quantity = IntegerField(_l("Per companion"), default=0, validators=[
        Optional(), NumberRange(min=0, max=100,
                                message=_l("Quantities and amounts are whole numbers, 0 or "
                                           "more."))])
    condition = SelectField(_l("Earned by"), choices=choices(g.CONDITIONS.items()))
    condition_product_id = SelectField(_l("Product bought"), coerce=int, validators=[Optional()])
    min_quantity = IntegerField(_l("How many"), default=0, validators=[
        Optional(), NumberRange(min=0, max=100000,
                                message=_l("Quantities and amounts are whole numbers, 0 or "
                                           "more."))])
    condition_package_id = SelectField(_l("Package bought"), coerce=int,
                                       validators=[Optional()])
    min_spend = MoneyField(_l("Spend at least (yuan)"))
    repeats = BooleanField(_l("Again for every further amount (buy 2 get 1, buy 4 get 2)"))
    counts_packages = BooleanField(_l("Also count the product inside packages bought"))
    waits_for = SelectField(_l("Hand the gift over"), choices=choices(g.WAITS.items()),
                            default="deposit")
    exclusive_group = StringField(_l("Competes in group"), validators=[Optional(),
                                                                        Length(max=20)],
                                  description=_l("Rules with the same group: only the most "
                                                 "valuable one is given."))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        gifts = inv.find_products(flag="is_gift")
        self.product_id.choices = choices([(p.id, f"{p.name}（{p.sku}）")
                                           for p in _all(gifts)])
        self.condition_product_id.choices = choices(
            [(0, "—"), *[(p.id, f"{p.name}（{p.sku}）") for p in _all(
                inv.find_products(flag="for_sale"))]])
        self.condition_package_id.choices = choices(
            [(0, "—"), *[(p.id, p.name) for p in o.packages()]])


def _all(query):
    from extensions import db
    return db.session.scalars(query).all()


class WarehouseForm(BaseForm):
    warehouse_id = SelectField(_l("Gifts come from"), coerce=int)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.warehouse_id.choices = choices([(w.id, w.name) for w in inv.warehouses()])


class PurchaseGiftsForm(BaseForm):
    token = TokenField()
    rule_ids = SelectMultipleField(_l("Gifts"), coerce=int, validators=[Optional()])
    #: Ticked to issue although customers are promised more than will be left (pooled custody).
    confirm_below_promise = BooleanField(_l("Even if customers are promised more than will be "
                                            "left"))


class ManualGiftForm(BaseForm):
    token = TokenField()
    product_id = SelectField(_l("Gift"), coerce=int)
    quantity = IntegerField(_l("Quantity"), default=1, validators=[
        InputRequired(_l("Give at least one.")),
        NumberRange(min=1, max=1000, message=_l("Give at least one."))])
    note = StringField(_l("Why"), validators=[InputRequired(_l("Say why the gift is given.")),
                                              Length(max=200)])
    #: Ticked to issue although customers are promised more than will be left (pooled custody).
    confirm_below_promise = BooleanField(_l("Even if customers are promised more than will be "
                                            "left"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.product_id.choices = choices([(p.id, p.name) for p in _all(
            inv.find_products(flag="is_gift"))])


class ReverseGiftForm(BaseForm):
    reason = StringField(_l("Reason"), validators=[
        InputRequired(_l("Say why the gift is taken back.")), Length(max=200)])


class DeskGiveForm(BaseForm):
    """One tap at the gift desk: the guest's attendance (and companion) gifts."""
    token = TokenField()
    customer_id = IdField(message=_l("Choose a guest from the list."))

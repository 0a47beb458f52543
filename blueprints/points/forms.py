"""The forms of the points counter: a redemption (a quantity per redeemable product), a
manager's adjustment, a reversal's reason, an owed referral gift given."""
from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, StringField
from wtforms.validators import InputRequired, Length, NumberRange

from blueprints.forms import BaseForm, IdField, IntegerField, QuantitiesField, TokenField
from models.points import MAX_POINTS


class RedeemForm(BaseForm):
    token = TokenField()
    #: {product id: quantity} from the page's "product-<id>" inputs.
    items = QuantitiesField(_l("Quantity"), prefix="product-", maximum=99_999)
    warehouse_id = IdField(_l("Warehouse"), message=_l("Choose a warehouse."))
    #: "1": the goods stay with the company (custody); "0" or absent: handed over now.
    in_custody = StringField(validators=[Length(max=1)])
    #: Ticked, after a refusal, to hand over although customers are promised more than will be
    #: left (pooled custody).
    confirm_below_promise = BooleanField()


class AdjustForm(BaseForm):
    token = TokenField()
    points = IntegerField(_l("Points"), validators=[
        InputRequired(_l("Enter the points to add or (negative) take away.")),
        NumberRange(-MAX_POINTS, MAX_POINTS,
                    message=_l("Enter the points to add or (negative) take away."))])
    reason = StringField(_l("Reason"), validators=[Length(max=200)])


class TokenForm(BaseForm):
    token = TokenField()


class ReasonForm(BaseForm):
    reason = StringField(_l("Reason"), validators=[Length(max=200)])

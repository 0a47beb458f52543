"""Forms of the sale and the money."""
from datetime import datetime, time

from flask_babel import lazy_gettext as _l, lazy_pgettext as _lp
from wtforms import (BooleanField, DateField, FieldList, Form, FormField,
                     PasswordField, SelectField, StringField, TextAreaField)
from wtforms.validators import InputRequired, Length, NumberRange, Optional

from blueprints.forms import (MAX_YUAN, BaseForm, IdField, IntegerField, MoneyField,
                              QuantitiesField, TickedField, TokenField, choices, to_fen)
from formatting import company_zone
from models import inventory as inv, orders as o


def _methods():
    return choices(o.METHODS.items())


class _OrderLine(Form):
    class Meta:
        def bind_field(self, form, unbound_field, options):
            return BaseForm.Meta.bind_field(self, form, unbound_field, options)

    sku = StringField(_l("Product (SKU)"), validators=[Optional(), Length(max=40)])
    quantity = IntegerField(_l("Quantity"), validators=[Optional(), NumberRange(
        min=1, max=100000, message=_l("The quantity must be a whole number above zero."))])
    unit_price = MoneyField(_l("Unit price (yuan)"))
    discount = MoneyField(_l("Discount (yuan)"))
    held = BooleanField(_l("Left in custody"))


class OrderForm(BaseForm):
    token = TokenField()
    payment_token = TokenField()
    channel = SelectField(_l("Deal made"), choices=choices(o.CHANNELS.items()))
    event_id = SelectField(_l("Event"), coerce=int, validators=[Optional()])
    warehouse_id = SelectField(_l("Goods from"), coerce=int)
    marketer_id = SelectField(_l("Credited to"), coerce=int)
    lines = FieldList(FormField(_OrderLine), min_entries=3, max_entries=o.operations.MAX_LINES)
    due_date = DateField(_l("Balance due by"), validators=[Optional()])
    note = TextAreaField(_l("Note"), validators=[Optional(), Length(max=1000)])
    deposit = MoneyField(_l("Paid now (yuan)"))
    deposit_method = SelectField(_l("Paid by"), choices=_methods())
    deposit_reference = StringField(_l("Transaction number"), validators=[Optional(),
                                                                          Length(max=64)])
    #: The sets of each package (package-<id>) and the packages left in custody
    #: (package-<id>-held): the tiles above the lines.
    packages = QuantitiesField(_l("Sets"), prefix="package-", maximum=99,
                               message=_l("Package counts are whole numbers, 0 to 99."))
    packages_held = TickedField(_l("Left in custody"), prefix="package-", suffix="-held")
    #: Shown once goods taken home would leave less on hand than customers are promised.
    confirm_below_promise = BooleanField(_l("Yes, hand them over although customers are "
                                            "promised more than will be left"))

    def __init__(self, events, marketers, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.event_id.choices = choices([(0, "—"), *[(e.id, e.title) for e in events]])
        self.warehouse_id.choices = choices([(w.id, w.name) for w in inv.warehouses()])
        self.marketer_id.choices = choices([(u.id, u.display_name) for u in marketers])

    def product_lines(self):
        """(lines for the operation, ok). Unknown SKUs become errors on their field."""
        result, ok = [], True
        for entry in self.lines.entries:
            line = entry.form
            if not (line.sku.data or line.quantity.data):
                continue
            product = inv.product_by_code(line.sku.data)
            if product is None:
                line.sku.errors = [*line.sku.errors, _l("No product in use has this SKU.")]
                ok = False
                continue
            result.append({"product": product, "quantity": line.quantity.data,
                           "unit_price": to_fen(line.unit_price.data),
                           "discount": to_fen(line.discount.data) or 0,
                           "held": bool(line.held.data)})
        return result, ok


class PaymentForm(BaseForm):
    token = TokenField()
    amount = MoneyField(_l("Amount (yuan)"), required=True, minimum="0.01")
    method = SelectField(_l("Paid by"), choices=_methods())
    reference = StringField(_l("Transaction number"), validators=[Optional(), Length(max=64)])
    day = DateField(_l("Received on (if not today)"), validators=[Optional()])

    def received_at(self, now):
        """Midday of the day entered (company time), or now."""
        if not self.day.data:
            return None
        return datetime.combine(self.day.data, time(12), tzinfo=company_zone()) \
            if self.day.data.year > 1990 else datetime(1990, 1, 1, tzinfo=company_zone())


class RefundForm(BaseForm):
    token = TokenField()
    amount = MoneyField(_l("Amount (yuan)"), required=True, minimum="0.01")
    method = SelectField(_l("Paid back by"), choices=_methods())
    reason = StringField(_l("Reason"), validators=[
        InputRequired(_l("Say why the money is refunded.")), Length(max=200)])
    goodwill = BooleanField(_l("A goodwill refund beyond what was overpaid (manager)"))


class ReturnForm(BaseForm):
    token = TokenField()
    #: Offers the lines with goods left to return; any line of the order is accepted, so that
    #: a resubmission after the last unit came back still finds its first result (the
    #: operation checks what may be returned).
    line_id = SelectField(_l("Goods"), coerce=int, validate_choice=False)
    quantity = IntegerField(_l("Quantity"), validators=[
        InputRequired(_l("The quantity must be a whole number above zero.")),
        NumberRange(min=1, max=100000,
                    message=_l("The quantity must be a whole number above zero."))])
    disposition = SelectField(_l("The goods go"), choices=choices(o.RETURN_DISPOSITIONS.items()))
    warehouse_id = SelectField(_l("Into warehouse"), coerce=int)
    batch_number = StringField(_l("Batch (if not the one sold)"),
                               validators=[Optional(), Length(max=40)])
    reason = StringField(_l("Reason"), validators=[
        InputRequired(_l("Say why the goods are returned.")), Length(max=200)])

    def __init__(self, order, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.line_id.choices = choices(
            [(line.id, f"{line.product.name} × {line.quantity - line.returned}")
             for line in order.lines if line.quantity > line.returned])
        self.warehouse_id.choices = choices([(w.id, w.name) for w in inv.warehouses()])


class ConfirmForm(BaseForm):
    """The second confirmation of a large order: by the head on their own device, or on the
    marketer's tablet with the head's PIN."""
    confirmer_id = SelectField(_l("Confirmed by"), coerce=int)
    pin = PasswordField(_l("Their PIN"), validators=[Optional(), Length(max=8)])
    family_informed = BooleanField(_l("The family contact was told of this order"))
    confirm_below_promise = BooleanField(_l("Yes, hand them over although customers are "
                                            "promised more than will be left"))

    def __init__(self, confirmers, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.confirmer_id.choices = choices([(user.id, user.display_name)
                                             for user in confirmers])


class PinForm(BaseForm):
    password = PasswordField(_l("Your password"), validators=[
        InputRequired(_l("Enter your password."))])
    pin = PasswordField(_l("New PIN (4 to 8 digits)"), validators=[
        InputRequired(_l("The PIN is 4 to 8 digits.")), Length(max=8)])


class ReasonForm(BaseForm):
    reason = StringField(_l("Reason"), validators=[InputRequired(_l("Give a reason.")),
                                                   Length(max=200)])


class _Declared(Form):
    """What was counted, one amount per payment method (declared-cash, declared-wechat …);
    blank: not counted. A refund-heavy day may count below zero."""
    class Meta:
        def bind_field(self, form, unbound_field, options):
            return BaseForm.Meta.bind_field(self, form, unbound_field, options)

    def amounts(self):
        """{method: fen} of the methods counted."""
        return {name: to_fen(field.data) for name, field in self._fields.items()
                if field.data is not None}


for _method, _label in o.METHODS.items():
    setattr(_Declared, _method, MoneyField(_label, minimum=-MAX_YUAN, message=_l(
        "Enter what was counted for each method.")))


class CloseForm(BaseForm):
    """Close a cashier's open session: what was counted per method (one field per method on
    the screen) and the day closed (the page's day, posted back)."""
    cashier_id = IdField(message=_l("Choose whose day to close."))
    declared = FormField(_Declared, separator="-")
    day = StringField(validators=[Optional(), Length(max=40)])
    note = StringField(_l("Note"), validators=[Optional(), Length(max=200)])


class ReopenForm(BaseForm):
    reason = StringField(_l("Why reopen it"), validators=[
        InputRequired(_l("Say why the close is reopened.")), Length(max=200)])


class PackageForm(BaseForm):
    name = StringField(_lp("thing", "Name"), validators=[InputRequired(_l("Enter the name.")),
                                                         Length(max=40)])
    price = MoneyField(_l("Package price (yuan)"), required=True, minimum="0.01")
    description = StringField(_l("Description"), validators=[Optional(), Length(max=200)])
    is_active = BooleanField(_l("In use"), default=True)
    items = FieldList(FormField(_OrderLine), min_entries=5, max_entries=20)

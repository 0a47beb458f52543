"""Forms of the warehouse: products, warehouses, the clerks' multi-line documents, counts."""
from flask_babel import lazy_gettext as _l, lazy_pgettext as _lp
from wtforms import (BooleanField, DateField, FieldList, Form, FormField, SelectField,
                     StringField, TextAreaField)
from wtforms.validators import InputRequired, Length, NumberRange, Optional

from blueprints.forms import (BaseForm, IntegerField, MoneyField, TokenField, choices, to_fen,
                              yuan)
from models import inventory as inv


class ProductForm(BaseForm):
    sku = StringField(_l("SKU / barcode"), validators=[InputRequired(_l("Enter the SKU.")),
                                                       Length(max=40)])
    name = StringField(_lp("thing", "Name"), validators=[
        InputRequired(_l("Enter the product's name.")), Length(max=80)])
    specification = StringField(_l("Specification"), validators=[Optional(), Length(max=80)],
                                description=_l("e.g. 60 capsules × 0.5 g"))
    unit = StringField(_l("Unit"), default="盒",
                       validators=[InputRequired(_l("Enter the unit (盒, 瓶, 袋...).")),
                                   Length(max=10)])
    category = StringField(_l("Category"), validators=[Optional(), Length(max=40)])
    for_sale = BooleanField(_l("For sale"), default=True)
    is_gift = BooleanField(_l("Gift"))
    redeemable = BooleanField(_l("Redeemable with points"))
    is_spare = BooleanField(_l("Spare"))
    sale_price = MoneyField(_l("Sale price (yuan)"))
    standard_cost = MoneyField(_l("Standard cost (yuan)"))
    floor_price = MoneyField(_l("Floor price (yuan)"),
                             description=_l("The lowest price sold without approval. Empty: "
                                            "the cost."))
    points_price = IntegerField(_l("Points price"), validators=[Optional(), NumberRange(
        min=1, max=10_000_000, message=_l("The points price must be a whole number above zero."))])
    points_multiplier = IntegerField(_l("Points earned (% of usual)"), validators=[
        Optional(), NumberRange(min=0, max=1000,
                                message=_l("The points multiplier is 0 to 1,000 (percent of the usual points)."))],
        description=_l("Empty: 100 %. 0: buying it earns no points."))
    shelf_life_days = IntegerField(_l("Shelf life (days)"), validators=[Optional(), NumberRange(
        min=1, max=36500, message=_l("The shelf life is 1 to 36,500 days."))])
    days_per_unit = IntegerField(_l("Days one unit lasts"), default=0, validators=[
        Optional(), NumberRange(min=0, max=3650, message=_l("Days one unit lasts: 0 to 3,650."))],
        description=_l("For repurchase reminders; 0: none."))
    low_stock_threshold = IntegerField(_l("Low-stock threshold"), default=0, validators=[
        Optional(), NumberRange(min=0, max=1_000_000,
                                message=_l("The low-stock threshold cannot be negative."))])
    is_active = BooleanField(_l("In use"), default=True)

    def data_for_operation(self):
        return {"sku": self.sku.data, "name": self.name.data,
                "specification": self.specification.data, "unit": self.unit.data,
                "category": self.category.data, "for_sale": self.for_sale.data,
                "is_gift": self.is_gift.data, "redeemable": self.redeemable.data,
                "is_spare": self.is_spare.data, "sale_price": to_fen(self.sale_price.data),
                "standard_cost": to_fen(self.standard_cost.data),
                "floor_price": to_fen(self.floor_price.data),
                "points_price": self.points_price.data,
                "points_multiplier": self.points_multiplier.data,
                "shelf_life_days": self.shelf_life_days.data,
                "days_per_unit": self.days_per_unit.data,
                "low_stock_threshold": self.low_stock_threshold.data,
                "is_active": self.is_active.data}

    def fill_from(self, product):
        for key in ("sku", "name", "specification", "unit", "for_sale", "is_gift", "redeemable",
                    "is_spare", "points_price", "points_multiplier", "shelf_life_days",
                    "days_per_unit", "low_stock_threshold", "is_active"):
            getattr(self, key).data = getattr(product, key)
        self.category.data = product.category.name if product.category else ""
        self.sale_price.data = yuan(product.sale_price)
        self.standard_cost.data = yuan(product.standard_cost)
        self.floor_price.data = None if product.floor_price is None else \
            yuan(product.floor_price)


class WarehouseForm(BaseForm):
    code = StringField(_l("Code"), validators=[InputRequired(_l("Enter a code.")),
                                               Length(max=20)])
    name = StringField(_lp("thing", "Name"), validators=[InputRequired(_l("Enter the name.")),
                                                         Length(max=40)])
    kind = SelectField(_l("Kind"), choices=choices(inv.WAREHOUSE_KINDS.items()))
    address = StringField(_l("Address"), validators=[Optional(), Length(max=200)])
    custody_mode = SelectField(_l("Goods held for customers"),
                               choices=choices(inv.CUSTODY_MODES.items()), default="reserved",
                               description=_l("Pooled: goods customers leave in custody stay in "
                                              "ordinary stock and are issued first expiry "
                                              "first when collected; the stock screen shows "
                                              "what is promised and what is free to sell. "
                                              "Changed only while nothing is held here."))
    is_active = BooleanField(_l("In use"), default=True)


# --- Multi-line documents --------------------------------------------------------------------

class _Line(Form):
    """One line of a document (a plain Form: no CSRF of its own), whitespace stripped."""

    class Meta:
        def bind_field(self, form, unbound_field, options):
            return BaseForm.Meta.bind_field(self, form, unbound_field, options)

    sku = StringField(_l("Product"), validators=[Optional(), Length(max=40)])
    quantity = IntegerField(_l("Quantity"), validators=[Optional(), NumberRange(
        min=1, max=1_000_000, message=_l("The quantity must be a whole number above zero."))])
    batch_number = StringField(_l("Batch"), validators=[Optional(), Length(max=40)])


class ReceiptLine(_Line):
    produced_on = DateField(_l("Produced on"), validators=[Optional()])
    expiry_date = DateField(_l("Expires on"), validators=[Optional()])
    unit_cost = MoneyField(_l("Unit cost (yuan)"))


class _DocumentForm(BaseForm):
    token = TokenField()
    warehouse_id = SelectField(_l("Warehouse"), coerce=int)
    note = TextAreaField(_l("Note"), validators=[Optional(), Length(max=1000)])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        options = [(w.id, f"{w.code} {w.name}") for w in inv.warehouses()]
        self.warehouse_id.choices = choices(options)
        if hasattr(self, "to_warehouse_id"):
            self.to_warehouse_id.choices = choices(options)

    def operation_lines(self, receipt=False):
        """The filled lines as the operation wants them; unknown SKUs and batches become
        errors on their field. Returns None when there are such errors."""
        result, ok = [], True
        for entry in self.lines.entries:
            line = entry.form
            if not (line.sku.data or line.quantity.data):
                result.append({})
                continue
            product = inv.product_by_code(line.sku.data)
            if product is None:
                line.sku.errors = [*line.sku.errors, _l("No product in use has this SKU.")]
                ok = False
                continue
            item = {"product": product, "quantity": line.quantity.data}
            if receipt:
                item.update(batch_number=line.batch_number.data,
                            produced_on=line.produced_on.data,
                            expiry_date=line.expiry_date.data,
                            unit_cost=to_fen(line.unit_cost.data))
            elif line.batch_number.data:
                item["batch"] = inv.batch_named(product, line.batch_number.data)
                if item["batch"] is None:
                    line.batch_number.errors = [*line.batch_number.errors,
                                                _l("No such batch of this product.")]
                    ok = False
            result.append(item)
        return result if ok else None


class ReceiptForm(_DocumentForm):
    supplier = StringField(_l("Supplier"), validators=[Optional(), Length(max=80)])
    confirm_short_dated = BooleanField(_l("Yes, receive the expired or nearly expired batch"))
    lines = FieldList(FormField(ReceiptLine), min_entries=6, max_entries=inv.MAX_LINES)


#: The second confirmation of an issue that leaves less on hand than customers are promised.
BELOW_PROMISE_LABEL = _l("Yes, issue them although customers are promised more than will be "
                         "left")


class TransferForm(_DocumentForm):
    warehouse_id = SelectField(_l("From warehouse"), coerce=int)
    to_warehouse_id = SelectField(_l("To warehouse"), coerce=int)
    confirm_below_promise = BooleanField(BELOW_PROMISE_LABEL)
    lines = FieldList(FormField(_Line), min_entries=6, max_entries=inv.MAX_LINES)


class ScrapForm(_DocumentForm):
    note = TextAreaField(_l("Why"), validators=[InputRequired(_l("Say why the goods are "
                                                                "scrapped.")),
                                                Length(max=1000)])
    confirm_below_promise = BooleanField(BELOW_PROMISE_LABEL)
    lines = FieldList(FormField(_Line), min_entries=6, max_entries=inv.MAX_LINES)


class ReverseForm(BaseForm):
    note = StringField(_l("Reason"), validators=[
        InputRequired(_l("Say why the document is reversed.")), Length(max=200)])


# --- Counts ----------------------------------------------------------------------------------

class StartCountForm(BaseForm):
    token = TokenField()
    warehouse_id = SelectField(_l("Warehouse"), coerce=int)
    note = StringField(_l("Note"), validators=[Optional(), Length(max=200)])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.warehouse_id.choices = choices(
            [(w.id, f"{w.code} {w.name}") for w in inv.warehouses()])


class CountedForm(BaseForm):
    counted = IntegerField(_l("Counted"), validators=[
        InputRequired(_l("Enter the counted quantity: a whole number, 0 or more.")),
        NumberRange(min=0, max=1_000_000,
                    message=_l("Enter the counted quantity: a whole number, 0 or more."))])


class PostCountForm(BaseForm):
    uncounted_as_book = BooleanField(_l("Lines not counted keep their book quantity"))

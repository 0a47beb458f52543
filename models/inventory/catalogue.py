"""Products, their price history, categories and warehouses."""
import re

from flask_babel import gettext as _
from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError

from extensions import db
from models.audit import audit
from models.base import Conflict, InvalidInput, NotFound, utcnow
from models.customers.reads import pinyin_of
from models.inventory.promises import set_custody_mode
from models.inventory.reads import warehouse_holds_stock
from models.inventory.tables import (CUSTODY_MODES, PRICE_FIELDS, PRODUCT_FLAGS, WAREHOUSE_KINDS,
                                     Batch, Location, PriceChange, Product, ProductCategory,
                                     Warehouse)

SKU_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,39}$")
MAX_PRICE_FEN = 100_000_000  # ¥1,000,000
MAX_POINTS = 10_000_000


# --- Categories ------------------------------------------------------------------------------

def categories():
    return db.session.scalars(select(ProductCategory).order_by(ProductCategory.name)).all()


def category_named(name):
    """The category of this name, made when new; None for no name."""
    name = (name or "").strip()[:40]
    if not name:
        return None
    category = db.session.scalar(select(ProductCategory).where(ProductCategory.name == name))
    if category is None:
        category = ProductCategory(name=name)
        db.session.add(category)
        db.session.flush()
    return category


# --- Products --------------------------------------------------------------------------------

def _int_in(value, low, high, field, message):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidInput(message, field=field)
    return value


def clean_product(data, *, own_id=None):
    """Checked values for a product from a form's data; raises InvalidInput naming the field."""
    sku = (data.get("sku") or "").strip()
    if not SKU_PATTERN.match(sku):
        raise InvalidInput(_("The SKU is letters, digits, - _ or . (at most 40)."), field="sku")
    clash = db.session.scalar(select(Product.id).where(func.lower(Product.sku) == sku.lower()))
    if clash is not None and clash != own_id:
        raise Conflict(_("SKU %(sku)s is already in use.", sku=sku), field="sku")
    name = (data.get("name") or "").strip()
    if not name:
        raise InvalidInput(_("Enter the product's name."), field="name")
    if len(name) > 80:
        raise InvalidInput(_("The name is at most 80 characters."), field="name")
    unit = (data.get("unit") or "").strip()
    if not unit or len(unit) > 10:
        raise InvalidInput(_("Enter the unit (盒, 瓶, 袋...)."), field="unit")
    values = {
        "sku": sku, "name": name, "unit": unit,
        "specification": (data.get("specification") or "").strip()[:80],
        "sale_price": _int_in(data.get("sale_price") or 0, 0, MAX_PRICE_FEN, "sale_price",
                              _("The sale price must be between ¥0 and ¥1,000,000.")),
        "standard_cost": _int_in(data.get("standard_cost") or 0, 0, MAX_PRICE_FEN,
                                 "standard_cost",
                                 _("The cost must be between ¥0 and ¥1,000,000.")),
        "floor_price": _int_in(data.get("floor_price"), 0, MAX_PRICE_FEN, "floor_price",
                               _("The floor price must be between ¥0 and ¥1,000,000.")),
        "points_price": _int_in(data.get("points_price"), 1, MAX_POINTS, "points_price",
                                _("The points price must be a whole number above zero.")),
        "shelf_life_days": _int_in(data.get("shelf_life_days"), 1, 36500, "shelf_life_days",
                                   _("The shelf life is 1 to 36,500 days.")),
        "points_multiplier": _int_in(data.get("points_multiplier"), 0, 1000,
                                     "points_multiplier",
                                     _("The points multiplier is 0 to 1000 percent.")),
        "days_per_unit": _int_in(data.get("days_per_unit") or 0, 0, 3650, "days_per_unit",
                                 _("Days one unit lasts: 0 to 3,650.")),
        "low_stock_threshold": _int_in(data.get("low_stock_threshold") or 0, 0, 1_000_000,
                                       "low_stock_threshold",
                                       _("The low-stock threshold cannot be negative.")),
    }
    for flag in PRODUCT_FLAGS:
        values[flag] = bool(data.get(flag))
    if values["floor_price"] is not None and values["floor_price"] > values["sale_price"]:
        raise InvalidInput(_("The floor price cannot be above the sale price."),
                           field="floor_price")
    if values["redeemable"] and not values["points_price"]:
        raise InvalidInput(_("A product redeemable with points needs a points price."),
                           field="points_price")
    if not any(values[flag] for flag in PRODUCT_FLAGS):
        raise InvalidInput(_("Tick at least one kind: for sale, gift, redeemable or spare."),
                           field="for_sale")
    values["name_pinyin"], values["name_initials"] = pinyin_of(name)
    return values


def create_product(data, *, actor, now=None):
    values = clean_product(data)
    product = Product(**values, category=category_named(data.get("category")),
                      created_at=now or utcnow())
    db.session.add(product)
    db.session.flush()
    audit(actor, "product.create", product, summary=f"{product.sku} {product.name}", now=now)
    return product


def update_product(product, data, *, actor, now=None):
    """Change a product; every change of price, cost or points price is kept as history."""
    values = clean_product(data, own_id=product.id)
    now = now or utcnow()
    for field in PRICE_FIELDS:
        old, new = getattr(product, field), values[field]
        if old != new:
            db.session.add(PriceChange(product_id=product.id, field=field, old_value=old,
                                       new_value=new, actor_id=actor.id, at=now))
    before = {"name": product.name, "sale_price": product.sale_price}
    for key, value in values.items():
        setattr(product, key, value)
    product.category = category_named(data.get("category"))
    product.is_active = bool(data.get("is_active", True))
    db.session.flush()
    audit(actor, "product.update", product, summary=f"{product.sku} {product.name}",
          before=before, after={"name": product.name, "sale_price": product.sale_price}, now=now)
    return product


def remove_unused_product(product, *, actor, now=None):
    """Remove a product nothing was done with (an import rolled back): no batch, no stock
    moved, never sold, given or packaged — the database refuses the delete otherwise, and the
    product stays (Conflict). Its price history goes with it."""
    if db.session.scalar(select(func.count()).select_from(Batch).where(
            Batch.product_id == product.id)):
        raise Conflict(_("%(name)s has stock: it stays.", name=product.name))
    summary = f"{product.sku} {product.name}"
    try:
        with db.session.begin_nested():
            db.session.execute(PriceChange.__table__.delete().where(
                PriceChange.product_id == product.id))
            db.session.delete(product)
            db.session.flush()
    except IntegrityError:
        raise Conflict(_("%(name)s is in use: it stays.", name=product.name)) from None
    audit(actor, "product.remove", None, summary=summary, now=now)


def price_history(product):
    return db.session.scalars(select(PriceChange).where(PriceChange.product_id == product.id)
                              .order_by(PriceChange.at.desc(), PriceChange.id.desc())).all()


def get_product_or_404(product_id):
    product = db.session.get(Product, product_id) if 0 < product_id < 2**31 else None
    if product is None:
        raise NotFound(_("No such product."))
    return product


def product_search_clause(text):
    """Products whose SKU, name, pinyin or initials start with (or, for names, contain) what
    was typed or scanned."""
    text = (text or "").strip()[:60]
    if not text:
        return None
    lowered = text.lower().replace(" ", "")
    escaped = lowered.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return or_(func.lower(Product.sku) == lowered,
               func.lower(Product.sku).like(f"{escaped}%", escape="\\"),
               Product.name.contains(text, autoescape=True),
               Product.name_pinyin.like(f"{escaped}%", escape="\\"),
               Product.name_initials.like(f"{escaped}%", escape="\\"))


def find_products(text="", *, active_only=True, flag=None, category_id=None):
    query = select(Product).order_by(Product.is_active.desc(), Product.sku)
    if (clause := product_search_clause(text)) is not None:
        query = query.where(clause)
    if active_only:
        query = query.where(Product.is_active.is_(True))
    if flag in PRODUCT_FLAGS:
        query = query.where(getattr(Product, flag).is_(True))
    if category_id:
        query = query.where(Product.category_id == category_id)
    return query


def product_by_code(code):
    """The active product whose SKU is exactly `code` (a scanner types it), or None."""
    code = (code or "").strip()
    if not code or len(code) > 40:
        return None
    return db.session.scalar(select(Product).where(func.lower(Product.sku) == code.lower(),
                                                   Product.is_active.is_(True)))


# --- Warehouses ------------------------------------------------------------------------------

def _clean_warehouse(data, own_id=None):
    code = (data.get("code") or "").strip().upper()
    if not SKU_PATTERN.match(code) or len(code) > 20:
        raise InvalidInput(_("The code is letters and digits (at most 20)."), field="code")
    name = (data.get("name") or "").strip()
    if not name or len(name) > 40:
        raise InvalidInput(_("Enter the warehouse's name (at most 40 characters)."),
                           field="name")
    kind = data.get("kind") or "main"
    if kind not in WAREHOUSE_KINDS:
        raise InvalidInput(_("Choose the kind of warehouse."), field="kind")
    for column, value, field in ((Warehouse.code, code, "code"), (Warehouse.name, name, "name")):
        clash = db.session.scalar(select(Warehouse.id).where(column == value))
        if clash is not None and clash != own_id:
            raise Conflict(_("%(value)s is already in use.", value=value), field=field)
    return {"code": code, "name": name, "kind": kind,
            "address": (data.get("address") or "").strip()[:200]}


def _custody_mode(data):
    mode = data.get("custody_mode") or "reserved"
    if mode not in CUSTODY_MODES:
        raise InvalidInput(_("Choose how the warehouse keeps goods held for customers."),
                           field="custody_mode")
    return mode


def create_warehouse(data, *, actor, now=None):
    """A warehouse, with its free-stock and custody locations."""
    warehouse = Warehouse(**_clean_warehouse(data), created_at=now or utcnow())
    if (mode := _custody_mode(data)) != "reserved":  # reserved is the database's default
        warehouse.custody_mode = mode
    db.session.add(warehouse)
    db.session.flush()
    db.session.add_all([Location(warehouse_id=warehouse.id, kind="stock"),
                        Location(warehouse_id=warehouse.id, kind="custody")])
    db.session.flush()
    audit(actor, "warehouse.create", warehouse, summary=warehouse.name, now=now)
    return warehouse


def update_warehouse(warehouse, data, *, actor, now=None):
    """Change a warehouse; its custody mode (when `data` names one) only while nothing is held
    there (set_custody_mode)."""
    values = _clean_warehouse(data, own_id=warehouse.id)
    if "custody_mode" in data:
        set_custody_mode(warehouse, _custody_mode(data), actor=actor, now=now)
    active = bool(data.get("is_active", True))
    if not active and warehouse.is_active:
        if warehouse_holds_stock(warehouse):
            raise Conflict(_("%(name)s still holds stock: transfer or count it out before "
                             "closing it.", name=warehouse.name), field="is_active")
    for key, value in values.items():
        setattr(warehouse, key, value)
    warehouse.is_active = active
    db.session.flush()
    audit(actor, "warehouse.update", warehouse, summary=warehouse.name, now=now)
    return warehouse


def get_warehouse_or_404(warehouse_id):
    warehouse = db.session.get(Warehouse, warehouse_id) if 0 < warehouse_id < 2**31 else None
    if warehouse is None:
        raise NotFound(_("No such warehouse."))
    return warehouse


"""The warehouse's settings, and its labels in the audit log."""
from flask_babel import lazy_gettext as _l, lazy_pgettext as _lp

from models.audit import register_actions, register_fields, register_targets
from models.inventory.reads import check_stock
from models.ledgers import register_check
from models.settings import define, define_area

define_area("inventory", _l("Products and warehouse"))
define("inventory.allow_negative_stock", "bool", False, _l("Allow negative stock"),
       _l("Off: an issue larger than the stock on hand is refused. Turn on only if goods "
          "regularly leave before their receipt is entered."))
define("inventory.near_expiry_days", "int", 60, _l("Near expiry within (days)"),
       _l("Batches expiring within this many days are listed as near expiry."), min=1, max=730)

register_actions({
    "product.create": _l("Added product"), "product.update": _l("Changed product"),
    "product.remove": _l("Removed an unused product (an import rolled back)"),
    "warehouse.create": _l("Added warehouse"), "warehouse.update": _l("Changed warehouse"),
    "warehouse.custody_mode": _l("Changed how a warehouse keeps goods held for customers"),
    "stock.receipt": _l("Received goods"), "stock.transfer": _l("Transferred goods"),
    "stock.scrap": _l("Scrapped goods"), "stock.reverse": _l("Reversed stock document"),
    "stock.count_start": _l("Started stock count"), "stock.count_post": _l("Posted stock count"),
    "stock.count_cancel": _l("Cancelled stock count"),
})
register_targets({"products": _l("Product"), "warehouses": _l("Warehouse"),
                  "stock_documents": _l("Stock document"), "stock_counts": _l("Stock count")})
register_fields({"sale_price": _l("Sale price (fen)"), "name": _lp("thing", "Name")},
                target_type="products")


register_check("stock")(check_stock)

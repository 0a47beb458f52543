"""Custody (存货及领取): goods a customer has bought and left with the company, collected box by
box.

The custody ledger has an entry per change, per customer, order line, product and batch:
deposits (goods left when the order was taken, or redeemed with points, or held since before the
company moved in: 期初寄存, an OpeningHolding), pickups, returns out of custody (the order was
returned) and reversals. A balance is the sum and never goes below zero. The goods themselves sit
on the warehouse's custody shelf (a stock location), so the warehouse's held-for-customers stock
always equals the customers' balances: `check-ledgers` proves it.

A customer may collect only what is paid for: in proportion to what is paid on the order (the
default), or only once it is paid in full (a setting); a manager may release early with a
reason. Goods held since before the move-in may be collected when the old system had them paid
for; unpaid ones only by a manager's early release.

A package (STYLE: an area past ~600 lines): tables, settings (registered first: see
settings.py), operations (writing, the release rule, pickups), reads. Everything is re-exported
here, so callers write `from models import custody as cu`.
"""
from models.custody.tables import (  # noqa: F401
    DOCUMENT, EARLY_RELEASE_ROLES, ENTRY_KINDS, PICKUP_ROLES, RELEASE_RULES, CustodyEntry,
    CustodyPickup, OpeningHolding)
from models.custody.settings import check_custody  # noqa: F401
from models.custody.operations import (  # noqa: F401
    LineFigures, deposit, deposit_opening, deposit_redeemed, holdings, is_pooled, line_balances,
    line_figures, line_held, may_collect, may_collect_opening, opening_figures, order_holdings,
    pick_up, pickable, redeemed_figures, return_out, reverse_entry, take_back_opening,
    take_back_redeemed)
from models.custody.reads import (  # noqa: F401
    balances_by_product, custody_customers, entries_of, expiring_held, find_holders,
    get_holder_or_404, not_collected, report_by_marketer, seen_customer_ids)

"""Orders and payments (issue 7): the order tables, packages, the payments ledger, arrears and
the cashiers' daily close. Taking an order — its goods, custody, returns, a large order's
confirmation — is a workflow above this area: models/order_taking.py."""
from models.orders.tables import (  # noqa: F401
    AGEING, CHANNELS, METHODS, ORDER_STATUSES, OWING_STATUSES, PAYMENT_KINDS, PAYMENT_STATES,
    RECEIPT_KINDS,
    RETURN_DISPOSITIONS, CashClose, CashClosePayment, Order, OrderLine, OrderReturn, Package,
    PackageItem, Payment)
from models.orders.operations import (  # noqa: F401
    APPROVER_ROLES, BACKDATE_ROLES, CASHIER_ROLES, CLOSE_ROLES, DOCUMENT, GOODWILL_ROLES,
    MAX_LINES,
    MAX_ORDER_FEN, REOPEN_ROLES, SELLER_ROLES, CashierDay,
    cashiers_of_day, close_day, day_summary, entry_by_token, lock_order, open_entries,
    package_lines, packages, receive_payment, refresh_balance, refund, refuse_pending,
    reopen_close, reverse_payment, save_package, sessions_of_day, sold_batch, summarise)
from models.orders.reads import (  # noqa: F401
    AGEING_BUCKETS, ageing_totals, arrears, arrears_query, bucket_of, check_payments,
    customer_due, find_orders,
    get_order_or_404, orders_of_customer, payments_of, returns_of, visible_orders)
from models.orders.figures import (  # noqa: F401
    binding, cogs_by_customer, customer_figures, rfm_scores, score_rfm)
from models.orders import settings as _settings  # noqa: F401,E402
from models.orders import safeguards  # noqa: F401,E402

"""Orders and payments (issue 7): packages, deals, the payments ledger, returns, arrears and
the cashiers' daily close."""
from models.orders.tables import (  # noqa: F401
    AGEING, CHANNELS, METHODS, ORDER_STATUSES, PAYMENT_KINDS, PAYMENT_STATES, RECEIPT_KINDS,
    RETURN_DISPOSITIONS, CashClose, Order, OrderLine, OrderReturn, Package, PackageItem,
    Payment)
from models.orders.operations import (  # noqa: F401
    APPROVER_ROLES, CASHIER_ROLES, CLOSE_ROLES, SELLER_ROLES, cancel_order, cashiers_of_day,
    close_day, create_order, day_summary, held_left, lock_order, package_lines, packages,
    receive_payment, refund, return_goods, reverse_payment, save_package, sold_batch)
from models.orders.reads import (  # noqa: F401
    AGEING_BUCKETS, ageing_totals, arrears, arrears_query, bucket_of, check_payments, customer_due, find_orders,
    get_order_or_404, orders_of_customer, payments_of, returns_of, visible_orders)
from models.orders import settings as _settings  # noqa: F401,E402
from models.orders import safeguards  # noqa: F401,E402

"""Products and the warehouse (issue 6): the catalogue, batches with expiry, the stock ledger
and its operations, clerks' documents, stock counts and the views over them."""
from models.inventory.tables import (  # noqa: F401
    COUNT_STATUSES, CUSTODY_MODES, DOCUMENT_KINDS, INTERNAL_KINDS, LOCATION_KINDS,
    NO_EXPIRED_REASONS, PRICE_FIELDS, PRODUCT_FLAGS, REASONS, UNITS, WAREHOUSE_KINDS, Batch,
    Location, PriceChange, Product, ProductCategory, StockCount, StockCountLine, StockDocument,
    StockMove, StockQuant, StockShortfall, Warehouse)
from models.inventory.stock import (  # noqa: F401
    BelowPromise, available_batches, batch_label, batch_named, check_promise, check_quantity,
    find_or_make_batch, issue, location_of, outside, promised, quantity_in, reason_label,
    receive, register_promises, reverse, scrap, take, take_back, transfer, warehouses)
from models.inventory.promises import (  # noqa: F401
    free_to_sell, record_shortfalls, set_custody_mode, shortfalls)
from models.inventory.catalogue import (  # noqa: F401
    categories, category_named, clean_product, create_product, create_warehouse, find_products,
    get_product_or_404, get_warehouse_or_404, price_history, product_by_code,
    product_search_clause, remove_unused_product, update_product, update_warehouse)
from models.inventory.documents import (  # noqa: F401
    MAX_LINES, create_receipt, create_scrap, create_transfer, document_moves,
    get_document_or_404, is_reversed, reverse_document)
from models.inventory.counts import (  # noqa: F401
    cancel_count, count_lines, counts, enter_counted, find_count_lines, get_count_or_404,
    open_count_of, post_count, progress, start_count)
from models.inventory.reads import (  # noqa: F401
    below_threshold, check_stock, expiring, moves_query, stock_on_hand, totals,
    warehouse_holds_stock)
from models.inventory import settings as _settings  # noqa: F401,E402

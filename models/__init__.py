"""Every area's tables and operations. Importing this package registers the complete metadata
(Alembic's autogenerate and the tests rely on it). The areas import downward only (DESIGN §3
Layers; .importlinter): base, then customers, inventory and events, then each area's ledger,
then the workflows that join ledgers in one transaction."""
from models import base, audit, settings, accounts, clock, scoping, timeline, ledgers  # noqa: F401
# The day figures the home pages read; its hook forgets a closed day a late write changes.
from models import daily  # noqa: F401
from models import customers, customer_import, events, checkin  # noqa: F401
# Each area registers its settings, audit actions, timeline entries and ledger check when it is
# imported, and the settings page, the audit log's filter and check-ledgers list them in that
# order: custody's first (it registers before the orders and points it reads), then points,
# orders, gifts and tasks.
from models import inventory, custody, points, orders, gifts, tasks  # noqa: F401
# Targets per marketer and department (what the performance figures are measured against).
from models import targets  # noqa: F401
# After-sales tickets stand on orders (a ticket names one) and tasks (its reminders).
from models import aftersales  # noqa: F401
# Messages to customers (SMS, WeChat): templates and the outbox.
from models import messages  # noqa: F401
from models import referrals, door, order_taking, redemptions, seating, opening  # noqa: F401
# Commission on the money collected, per month (it reads orders, customers and targets).
from models import commission  # noqa: F401
# Arrivals, deals, sales and collections per day (the home pages' cards and trends).
from models import activity  # noqa: F401
# Large imports and exports run in the background (models.background; their settings here).
from models import background  # noqa: F401
# The getting-started checklist counts every area's rows (its settings come last on the page).
from models import setup  # noqa: F401

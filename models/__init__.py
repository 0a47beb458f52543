"""Every area's tables and operations. Importing this package registers the complete metadata
(Alembic's autogenerate and the tests rely on it)."""
from models import base, audit, settings, accounts, scoping, timeline, customers, customer_import, events, checkin, inventory, orders  # noqa: F401

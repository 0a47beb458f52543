"""Every area's tables and operations. Importing this package registers the complete metadata
(Alembic's autogenerate and the tests rely on it)."""
from models import base, audit, settings, accounts, scoping, timeline  # noqa: F401
from models import customers, customer_import, events, checkin  # noqa: F401
from models import inventory, orders, gifts, custody, points, tasks  # noqa: F401

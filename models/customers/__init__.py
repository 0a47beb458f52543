"""The customer archive (顾客档案): one record per person, owned by the company.

A package (STYLE: an area past ~600 lines): tables, reads (input rules, search), operations,
birthdays (the lunar calendar rules and the care list), rules (the public pool's and the
grades'), channel_costs (campaign costs per source channel and month), intent (purchase
intent and experience visits). Everything is
re-exported here, so callers write `from models import customers as c`.
"""
from models.customers.tables import *  # noqa: F401,F403
from models.customers.reads import *  # noqa: F401,F403
from models.customers.operations import *  # noqa: F401,F403
from models.customers.reads import clean_customer_data  # noqa: F401
from models.customers.birthdays import *  # noqa: F401,F403
from models.customers.rules import *  # noqa: F401,F403
from models.customers.channel_costs import *  # noqa: F401,F403
from models.customers.intent import *  # noqa: F401,F403

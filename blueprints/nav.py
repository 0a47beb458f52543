"""The navigation, declared once. An item shows to a user only if its route's role_required
lets them in, so the menu and the permissions cannot disagree."""
from dataclasses import dataclass

from flask import url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from blueprints.access import can


@dataclass(frozen=True)
class NavItem:
    endpoint: str
    label: object
    description: object = ""

    @property
    def url(self):
        return url_for(self.endpoint)


NAV = [
    NavItem("main.index", _l("Home"), _l("Your work at a glance")),
    NavItem("tasks.today", _l("Today"), _l("Callbacks and care due: call, note, done")),
    NavItem("customers.index", _l("Customers"), _l("Search, follow up, hand over")),
    NavItem("customers.pool", _l("Public pool"), _l("Customers nobody owns: claim or assign")),
    NavItem("aftersales.index", _l("After-sales"),
            _l("Complaints, repairs and home visits: who, and by when")),
    NavItem("messages.outbox", _l("Messages"),
            _l("SMS and WeChat to customers: templates, the outbox, sending to guests")),
    NavItem("events.index", _l("Events"), _l("Plan sessions, invite, print cards")),
    NavItem("checkin.index", _l("Check-in"), _l("The door: scan, check in, seat")),
    NavItem("orders.index", _l("Orders"), _l("Deals, payments, arrears, the daily close")),
    NavItem("points.index", _l("Points"), _l("Redeem points, balances, the liability")),
    NavItem("custody.index", _l("Custody"), _l("Goods held for customers: hand over, slips")),
    NavItem("gifts.index", _l("Gifts"),
            _l("The gift desk, gift rules, who got what, what it cost")),
    NavItem("inventory.index", _l("Stock"),
            _l("Products, stock on hand, receipts, transfers, counts")),
    NavItem("reports.index", _l("Reports"), _l("Performance, profit, event ROI, printed and as .xlsx")),
    NavItem("customers.lists", _l("Channels and tags"), _l("The lists customers are sorted by")),
    NavItem("admin.users", _l("Users"), _l("Accounts, roles, deactivation")),
    NavItem("admin.departments", _l("Departments"), _l("The department tree")),
    NavItem("admin.settings", _l("Settings"), _l("Company name, time zone, sign-in rules")),
    NavItem("admin.audit", _l("Audit log"), _l("Who did what, and when")),
]


def nav_items(user=None):
    """The navigation items `user` (default: the current user) may see."""
    user = user or current_user
    if not getattr(user, "is_authenticated", False):
        return []
    return [item for item in NAV if can(item.endpoint, user)]

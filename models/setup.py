"""The administrator's getting-started checklist (开始使用): what a new company still has to set
up, each step's state counted from the rows the other areas wrote (nothing is stored but the
two ticks a person gives: the settings reviewed, the checklist put away).

Read-only over every area, so it sits beside the workflows (DESIGN §3 Layers, 4); the two ticks
are settings, changed through update_settings() (validated, audited).
"""
from dataclasses import dataclass, field

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from extensions import db
from models.accounts import Department, User
from models.custody import CustodyEntry
from models.customers import Customer
from models.events import Event
from models.inventory import Product, StockMove, Warehouse
from models.opening import OpeningBatch
from models.orders import Order, Package
from models.points import PointsEntry
from models.settings import Setting, define, define_area, get_setting, update_settings

SETTINGS_REVIEWED = "setup.settings_reviewed"
CHECKLIST_HIDDEN = "setup.checklist_hidden"

define_area("setup", _l("Getting started"))
define(SETTINGS_REVIEWED, "bool", False, _l("The settings have been reviewed"),
       _l("Tick once you have gone through this page: the getting-started checklist on the "
          "administrator's home page counts it."))
define(CHECKLIST_HIDDEN, "bool", False, _l("Hide the getting-started checklist"),
       _l("The checklist on the administrator's home page. Untick to show it again."))


@dataclass(frozen=True)
class SetupStep:
    """One step of the checklist: its key, whether it is done and the counts behind it."""
    key: str
    done: bool
    #: What was counted ({"departments": 3}); the page words it.
    counts: dict = field(default_factory=dict)


#: The steps in the order a company goes through them.
STEP_KEYS = ("company", "departments", "users", "warehouses", "products", "opening_stock",
             "customers", "opening_balances", "settings", "first_event")


def _count(query):
    return db.session.scalar(select(func.count()).select_from(query.subquery())) or 0


def setup_steps():
    """Every step of the checklist with its state, counted from the database now."""
    company_saved = db.session.get(Setting, "general.company_name") is not None
    departments = _count(select(Department.id).where(Department.is_active))
    users = _count(select(User.id).where(User.is_active))
    warehouses = _count(select(Warehouse.id).where(Warehouse.is_active))
    products = _count(select(Product.id))
    packages = _count(select(Package.id).where(Package.is_active))
    # Goods received by any way in (a receipt, or the opening-stock import), not reversed.
    receipts = _count(select(StockMove.id).where(StockMove.reason.in_(("receipt", "opening")),
                                                 StockMove.reverses_id.is_(None)))
    customers = _count(select(Customer.id))
    # Opening balances: the imports of old debts, points and goods held in custody confirmed
    # (models.opening), or — for a company that keys them in — any order, points entry or
    # custody entry (an opening holding's deposit is one).
    imported = _count(select(OpeningBatch.id).where(OpeningBatch.status == "done",
                                                    OpeningBatch.kind.in_(("arrears", "points",
                                                                           "custody"))))
    orders = _count(select(Order.id))
    points = _count(select(PointsEntry.id))
    custody = _count(select(CustodyEntry.id))
    events = _count(select(Event.id))
    return [
        SetupStep("company", company_saved, {"name": get_setting("general.company_name"),
                                             "timezone": get_setting("general.timezone")}),
        SetupStep("departments", departments > 0, {"departments": departments}),
        # The administrator alone is not a company yet.
        SetupStep("users", users > 1, {"users": users}),
        SetupStep("warehouses", warehouses > 0, {"warehouses": warehouses}),
        SetupStep("products", products > 0, {"products": products, "packages": packages}),
        SetupStep("opening_stock", receipts > 0, {"receipts": receipts}),
        SetupStep("customers", customers > 0, {"customers": customers}),
        SetupStep("opening_balances", imported + orders + points + custody > 0,
                  {"imports": imported, "orders": orders, "points": points,
                   "custody": custody}),
        SetupStep("settings", bool(get_setting(SETTINGS_REVIEWED)), {}),
        SetupStep("first_event", events > 0, {"events": events}),
    ]


def checklist_shown(steps):
    """Whether the home page still shows the checklist: not put away, and a step still open."""
    return not get_setting(CHECKLIST_HIDDEN) and not all(step.done for step in steps)


def mark_settings_reviewed(*, actor, now=None):
    """Tick "settings reviewed" (a setting, audited like any other change)."""
    return update_settings({SETTINGS_REVIEWED: True}, actor=actor, now=now)


def hide_checklist(*, actor, now=None):
    """Put the checklist away for every administrator (untick it under 系统设置 to bring it back)."""
    return update_settings({CHECKLIST_HIDDEN: True}, actor=actor, now=now)

"""Every money, points, stock, custody and ownership change has an audit entry.

Every public function of models/ is wrapped; a scenario then does every kind of change the app
knows (the sample company, then refunds, returns, reversals, transfers, counts, the pool, walk-ins,
the nightly jobs). Each outermost operation that added a row to a ledger (or changed a customer's
owner) must have added an audit entry in the same call. Every public function whose own code
writes a ledger row must have been called in the scenario, so a new one that is not fails here
until the scenario calls it (and then its audit is checked).
"""
import importlib
import inspect
import pkgutil
import re
from datetime import date, timedelta

from sqlalchemy import func, select

import models
from extensions import db
from models.base import new_token, utcnow
from tests.factories import company_today, make_customer
from tests.world import build_world

#: The ledger tables: money, points, stock, custody, gifts, ownership, prices.
LEDGERS = ("stock_moves", "payments", "order_returns", "points_entries", "custody_entries",
           "gift_issues", "ownership_changes", "product_price_changes")
#: What writing a ledger row looks like in the code.
WRITES_LEDGER = re.compile(r"\b(StockMove|Payment|OrderReturn|PointsEntry|CustodyEntry|"
                           r"GiftIssue|OwnershipChange|PriceChange)\(|insert\(entries\)|"
                           r"\.owner_id = ")


def model_modules():
    for info in pkgutil.walk_packages(models.__path__, "models."):
        yield importlib.import_module(info.name)


def public_operations():
    """{qualified name: function} of every public function defined in models/."""
    found = {}
    for module in model_modules():
        for name, value in vars(module).items():
            if inspect.isfunction(value) and not name.startswith("_") and \
                    value.__module__.startswith("models."):
                found[f"{value.__module__}.{name}"] = value
    return found


def ledger_fingerprint():
    counts = [db.session.scalar(select(func.count()).select_from(db.metadata.tables[name]))
              for name in LEDGERS]
    owners = db.session.execute(select(db.metadata.tables["customers"].c.id,
                                       db.metadata.tables["customers"].c.owner_id)).all()
    audits = db.session.scalar(select(func.count()).select_from(
        db.metadata.tables["audit_entries"]))
    return (tuple(counts), frozenset(owners)), audits


class Recorder:
    """Wraps every public model function; checks each outermost call."""

    def __init__(self, monkeypatch):
        self.depth, self.writers, self.unaudited, self.called = 0, set(), [], set()
        wrapped = {}
        for qualified, function in public_operations().items():
            wrapped[function] = self.wrap(qualified, function)
        for module in model_modules():
            for name, value in list(vars(module).items()):
                if inspect.isfunction(value) and value in wrapped:
                    monkeypatch.setattr(module, name, wrapped[value])

    def wrap(self, qualified, function):
        def wrapper(*args, **kwargs):
            self.called.add(qualified)
            if self.depth:
                return function(*args, **kwargs)
            db.session.flush()
            before, audits_before = ledger_fingerprint()
            self.depth += 1
            try:
                result = function(*args, **kwargs)
                db.session.flush()
            finally:
                self.depth -= 1
            after, audits_after = ledger_fingerprint()
            if after != before:
                self.writers.add(qualified)
                if audits_after == audits_before:
                    self.unaudited.append(qualified)
            return result
        wrapper.__wrapped__ = function
        return wrapper


def scenario(world):
    """Every kind of ledger change, on top of the sample company."""
    from jobs import customers as job_customers, points as job_points
    from models import (custody, customers, door, events, gifts, inventory as inv, order_taking,
                        orders, points, redemptions, referrals)
    from models.settings import update_settings
    u, ids = world.users, world.ids
    manager, clerk, finance = u["manager"], u["warehouse"], u["finance"]
    order = db.session.get(orders.Order, ids["order_id"])
    customer = order.customer
    warehouse = db.session.get(inv.Warehouse, ids["warehouse_id"])
    product = db.session.get(inv.Product, ids["product_id"])
    inv.update_product(product, {**_product_data(product), "sale_price": 21000, "category": ""},
                       actor=clerk)
    payment = orders.receive_payment(order, amount=1000, method="cash", actor=finance,
                                     token=new_token())
    orders.reverse_payment(payment, reason="录错", actor=finance)
    taken_home = next(line for line in order.lines if not line.held)
    returned = order_taking.return_goods(order, taken_home, quantity=1, reason="不要了",
                                         approver=manager, actor=manager, token=new_token())
    orders.refund(order, amount=1000, method="cash", reason="退货", actor=finance,
                  approver=manager, token=new_token(), order_return=returned, goodwill=True)
    second = order_taking.create_order(customer, actor=u["m1"], token=new_token(), channel="store",
                                       warehouse=warehouse,
                                       lines=[{"product": product, "quantity": 1, "held": True}])
    order_taking.cancel_order(second, reason="下错", actor=u["m1"])
    gifts.reverse_gift(db.session.get(gifts.GiftIssue, ids["issue_id"]), reason="拿错",
                       actor=manager)
    custody.reverse_entry(db.session.get(custody.CustodyEntry, ids["entry_id"]), reason="没拿",
                          actor=manager)
    redemptions.reverse_redemption(db.session.get(points.Redemption, ids["redemption_id"]),
                                   reason="拿错", actor=manager)
    other = inv.create_warehouse({"code": "AUD", "name": "审计仓", "kind": "main"}, actor=clerk)
    moved = inv.create_transfer(warehouse=warehouse, to_warehouse=other, actor=clerk,
                                token=new_token(), lines=[{"product": product, "quantity": 2}])
    scrapped = inv.create_scrap(warehouse=other, actor=clerk, token=new_token(), note="破损",
                                lines=[{"product": product, "quantity": 1}])
    inv.reverse_document(scrapped, actor=clerk, note="没坏")
    assert moved.id
    count = db.session.get(inv.StockCount, ids["count_id"])
    line = inv.count_lines(count)[0]
    inv.enter_counted(count, line.id, line.book - 1, actor=clerk)
    inv.post_count(count, actor=clerk, uncounted_as_book=True)
    customers.transfer_customers([customer.id], u["spare"], actor=manager, reason="交接")
    customers.release_to_pool([customer.id], actor=manager, reason="公海")
    customers.claim_from_pool(customer, actor=u["m1"])
    # A large order: its goods leave when a department head confirms it.
    update_settings({"orders.large_order_yuan": 1}, actor=u["admin"])
    large = order_taking.create_order(customer, actor=u["m1"], token=new_token(), channel="store",
                                      warehouse=warehouse,
                                      lines=[{"product": product, "quantity": 1}])
    order_taking.confirm_order(large, confirmer=u["head1"], actor=u["head1"])
    referrals.give_referral_gift(db.session.get(referrals.ReferralReward, ids["reward_id"]),
                                 actor=clerk, token=new_token())
    event = db.session.get(events.Event, ids["event_id"])
    door.register_walk_in(event, name="散客", phone="13900009999", actor=manager,
                          token=new_token(), owner=u["m1"])
    update_settings({"points.birthday_bonus": 50}, actor=u["admin"])
    today = company_today()
    make_customer(u["m1"], name="寿星", birthday_kind="solar",
                  birthday=date(1950, today.month, min(today.day, 28)))
    job_points.birthday_points(today)
    job_customers.pool_reclaim(today + timedelta(days=400))
    job_points.points_expiry(today + timedelta(days=3650))
    return customer


def _product_data(product):
    return {key: getattr(product, key) for key in (
        "sku", "name", "unit", "sale_price", "standard_cost", "for_sale", "is_gift",
        "redeemable", "points_price")}


def test_every_ledger_change_is_audited(db, monkeypatch):
    written_by_own_code = {name for name, function in public_operations().items()
                           if WRITES_LEDGER.search(inspect.getsource(function))}
    assert len(written_by_own_code) >= 5
    recorder = Recorder(monkeypatch)
    scenario(build_world())
    assert recorder.unaudited == []
    assert written_by_own_code - recorder.called == set()
    assert len(recorder.writers) >= 25, sorted(recorder.writers)


#: The stock primitives: each writes one move and no audit entry; the operations that call them
#: (documents, orders, gifts, custody, points, counts) audit the whole change.
STOCK_PRIMITIVES = ("receive", "issue", "take", "transfer", "scrap", "take_back", "reverse")


def test_only_audited_operations_move_stock():
    """Routes, jobs and reports never call a stock primitive themselves."""
    from pathlib import Path
    root = Path(__file__).resolve().parents[2]
    call = re.compile(r"\b(inv|inventory|stock)\.(" + "|".join(STOCK_PRIMITIVES) + r")\(")
    offenders = [str(path.relative_to(root)) for folder in ("blueprints", "reports", "jobs")
                 for path in (root / folder).rglob("*.py") if call.search(path.read_text())]
    assert offenders == []

"""`flask --app app check-ledgers`: clean on a company that did one of everything; a tampered row
in any of the five ledgers (stock, payments, gifts, custody, points) makes it exit 1 and name the
row."""
import pytest
from sqlalchemy import select

from blueprints.admin.commands import check_ledgers_command
from extensions import db
from tests.world import build_world

LEDGERS = ("stock", "payments", "gifts", "custody", "points")


def run(runner):
    return runner.invoke(check_ledgers_command, catch_exceptions=False)


def test_a_clean_company_passes_every_check(db, runner):
    build_world()
    result = run(runner)
    assert result.exit_code == 0, result.output
    for name in LEDGERS:
        assert f"✓ {name}:" in result.output


def tamper_stock(world):
    from models.inventory import StockMove
    move = db.session.scalar(select(StockMove).order_by(StockMove.id))
    move.quantity += 1
    return "stock location="


def tamper_payments(world):
    from models.orders import Order, Payment
    payment = db.session.get(Payment, world.ids["payment_id"])
    payment.amount += 100
    return f"order {db.session.get(Order, world.ids['order_id']).number}: paid"


def tamper_gifts(world):
    from models.gifts import GiftIssue
    db.session.get(GiftIssue, world.ids["issue_id"]).cost += 1
    return f"gift issue {world.ids['issue_id']}:"


def tamper_custody(world):
    from models.custody import CustodyEntry
    db.session.get(CustodyEntry, world.ids["entry_id"]).quantity -= 1
    return "custody warehouse="


def tamper_points(world):
    from models.points import PointsEntry
    entry = db.session.scalar(select(PointsEntry).where(
        PointsEntry.customer_id == world.ids["customer_id"]).order_by(PointsEntry.id))
    entry.points += 7
    return f"points customer={world.ids['customer_id']}:"


@pytest.mark.parametrize("ledger", LEDGERS)
def test_a_tampered_row_fails_the_check_and_is_named(db, runner, ledger):
    world = build_world()
    expected = globals()[f"tamper_{ledger}"](world)
    db.session.flush()
    result = run(runner)
    assert result.exit_code == 1
    assert f"✗ {ledger}:" in result.output and expected in result.output, result.output

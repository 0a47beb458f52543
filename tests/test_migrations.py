"""The schema comes from migrations: `db upgrade` on an empty database matches the models."""
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect

from extensions import db
from tests.conftest import create_throwaway_database, is_postgres, make_test_app


@pytest.fixture
def empty_database(tmp_path):
    if is_postgres():
        url, drop = create_throwaway_database("hxt_migrate")
        yield url
        drop()
    else:
        yield f"sqlite:///{tmp_path / 'migrate.db'}"


def test_upgrade_on_an_empty_database_matches_the_models(empty_database, tmp_path):
    app = make_test_app(empty_database, tmp_path)
    with app.app_context():
        upgrade()
        with db.engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            diff = compare_metadata(context, db.metadata)
            tables = set(inspect(conn).get_table_names())
        assert diff == [], diff
        assert {"users", "user_roles", "departments", "settings", "audit_entries"} <= tables
        downgrade(revision="base")
        with db.engine.connect() as conn:
            assert set(inspect(conn).get_table_names()) <= {"alembic_version"}
        db.engine.dispose()


def test_closes_written_before_sessions_cover_their_whole_day(empty_database, tmp_path):
    """A close written when a closed day refused new entries becomes session 1 of its day and
    covers every entry of its cashier's company day — not the entries of the next day."""
    from datetime import datetime, timedelta, timezone

    from sqlalchemy import text

    from models import orders as o
    from models.base import new_token
    from tests.factories import make_customer, make_order, make_stocked_product, make_user, \
        make_warehouse
    app = make_test_app(empty_database, tmp_path)
    with app.app_context():
        # The data is made by today's models, then the schema goes back to before sessions
        # (the models keep growing columns an old schema does not have).
        upgrade()
        finance, marketer = make_user(["finance"]), make_user(["marketer"])
        warehouse = make_warehouse()
        product = make_stocked_product(warehouse)
        order = make_order(make_customer(marketer), warehouse=warehouse, actor=marketer,
                           lines=[{"product": product, "quantity": 3}])
        # 2026-03-01 in Shanghai runs from 2026-02-28 16:00 to 2026-03-01 16:00 UTC.
        times = [datetime(2026, 2, 28, 15, 59, tzinfo=timezone.utc),
                 datetime(2026, 2, 28, 16, 0, tzinfo=timezone.utc),
                 datetime(2026, 3, 1, 15, 59, tzinfo=timezone.utc),
                 datetime(2026, 3, 1, 16, 0, tzinfo=timezone.utc)]
        now = times[-1] + timedelta(days=1)
        payments = [o.receive_payment(order, amount=100, method="cash", actor=finance,
                                      token=new_token(), at=at, now=now) for at in times]
        ids, finance_id = [p.id for p in payments], finance.id
        db.session.commit()
        db.session.remove()
        downgrade(revision="96441ff6c356")
        db.session.execute(text(
            "INSERT INTO cash_closes (cashier_id, day, expected, declared, expected_total, "
            "declared_total, note, closed_by_id, closed_at) VALUES (:u, :day, '{}', '{}', 200, "
            "200, '', :u, :at)"), {"u": finance_id, "day": "2026-03-01",
                                   "at": now.replace(tzinfo=None)})
        db.session.commit()
        db.session.remove()
        upgrade()
        with db.engine.connect() as conn:
            assert conn.execute(text("SELECT session FROM cash_closes")).scalar() == 1
            covered = conn.execute(text("SELECT payment_id FROM cash_close_payments "
                                        "ORDER BY payment_id")).scalars().all()
        assert covered == ids[1:3]
        downgrade(revision="96441ff6c356")  # one session a day: back to a close per day
        with db.engine.connect() as conn:
            assert "cash_close_payments" not in inspect(conn).get_table_names()
            assert conn.execute(text("SELECT count(*) FROM cash_closes")).scalar() == 1
        db.engine.dispose()


def test_orders_taken_before_price_authority_list_at_what_they_were_sold_for(empty_database,
                                                                            tmp_path):
    """Lines taken before list prices were recorded list at the price sold at, so an old
    order's discount (优惠) is the money typed off its lines, not invented."""
    from sqlalchemy import text

    from tests.factories import make_customer, make_order, make_stocked_product, make_user, \
        make_warehouse
    app = make_test_app(empty_database, tmp_path)
    with app.app_context():
        upgrade()
        marketer, warehouse = make_user(["manager"]), make_warehouse()
        product = make_stocked_product(warehouse, sale_price=19800)
        order = make_order(make_customer(make_user(["marketer"])), warehouse=warehouse, actor=marketer,
                           lines=[{"product": product, "quantity": 2, "unit_price": 15000,
                                   "discount": 1000}])
        order_id = order.id
        db.session.commit()
        db.session.remove()
        downgrade(revision="c7909032f7b8")
        upgrade()
        with db.engine.connect() as conn:
            assert conn.execute(text("SELECT list_price FROM order_lines")).scalar() == 15000
            assert conn.execute(text("SELECT list_total, total FROM orders WHERE id = :id"),
                                {"id": order_id}).one() == (30000, 29000)
        db.engine.dispose()

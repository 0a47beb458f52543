"""`flask --app app backup PATH` / `restore PATH`: a round trip gives back every row of every
table and ledger, on SQLite and on PostgreSQL; a backup taken while the app writes is whole; a
restore refuses what it cannot restore and asks first.

Each test builds its own app on a throwaway database (the suite's `db` fixture rolls back, which
a backup would never see)."""
import shutil
import sqlite3
import threading

import pytest
from flask_migrate import upgrade
from sqlalchemy import select, text, update

from extensions import db
from models import checkin as ci, custody as cu, events as ev, orders as o, points as pt
from models import redemptions
from models.base import begin_write, new_token
from models.ledgers import check_ledgers
from tests.conftest import create_throwaway_database, is_postgres, make_test_app
from tests.factories import (make_customer, make_event, make_order, make_stocked_product,
                             make_user, make_warehouse)


@pytest.fixture
def fresh_app(tmp_path):
    """An app on its own empty database, migrated."""
    if is_postgres():
        url, drop = create_throwaway_database("hxt_backup")
    else:
        url, drop = f"sqlite:///{tmp_path / 'live.db'}", None
    app = make_test_app(url, tmp_path / "instance")
    with app.app_context():
        upgrade()
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    if drop:
        drop()


def fill_every_ledger():
    """Rows in every ledger: stock, an order partly in custody, a payment (and the points it
    earns), a pickup, a redemption and a check-in. Committed."""
    begin_write()
    warehouse = make_warehouse()
    marketer, finance = make_user(["marketer"]), make_user(["finance"])
    clerk, manager = make_user(["warehouse"]), make_user(["manager"])
    customer = make_customer(marketer, name="王大爷")
    product = make_stocked_product(warehouse, 50, name="灵芝孢子粉", sale_price=10000,
                                   redeemable=True, points_price=100)
    order = make_order(customer, warehouse=warehouse, actor=marketer,
                       lines=[{"product": product, "quantity": 10, "held": 6}])
    o.receive_payment(order, amount=order.total, method="cash", actor=finance,
                      token=new_token())
    cu.pick_up(customer, {order.lines[0].id: 2}, actor=clerk, token=new_token())
    redemptions.redeem(customer, [(product, 3)], warehouse=warehouse, actor=clerk,
                       token=new_token())
    event = make_event(manager)
    invitation = ev.invite(event, customer, actor=marketer)
    ci.check_in(event, invitation, actor=manager, token=new_token())
    db.session.commit()
    return [thing.id for thing in (customer, product, warehouse, marketer, finance)]


def more_business(ids):
    """A later day's work: another order and payment (ids from fill_every_ledger())."""
    from models.accounts import User
    from models.customers import Customer
    from models.inventory import Product, Warehouse
    begin_write()
    customer, product, warehouse, marketer, finance = (
        db.session.get(model, id_) for model, id_ in
        zip((Customer, Product, Warehouse, User, User), ids))
    order = make_order(customer, warehouse=warehouse, actor=marketer,
                       lines=[{"product": product, "quantity": 1}])
    o.receive_payment(order, amount=500, method="wechat", actor=finance, token=new_token())
    db.session.commit()
    return order


def snapshot():
    """Every row of every table (and the schema revision), in primary-key order."""
    rows = {}
    with db.engine.connect() as conn:
        for table in db.metadata.sorted_tables:
            rows[table.name] = conn.execute(
                select(table).order_by(*table.primary_key.columns)).all()
        rows["alembic_version"] = conn.execute(
            text("SELECT version_num FROM alembic_version")).all()
    return rows


def ledgers_clean():
    return all(problems == [] for problems in check_ledgers().values())


def test_a_restored_backup_has_every_row_of_every_table_and_the_ledgers_agree(fresh_app,
                                                                              tmp_path):
    app, runner = fresh_app, fresh_app.test_cli_runner()
    path = tmp_path / "saved" / ("hxt.dump" if is_postgres() else "hxt.db")
    with app.app_context():
        business = fill_every_ledger()
        before = snapshot()
    for table in ("payments", "points_entries", "custody_entries", "stock_moves", "check_ins",
                  "points_redemptions", "custody_pickups", "audit_entries"):
        assert before[table], table
    assert len(before["alembic_version"]) == 1

    result = runner.invoke(args=["backup", str(path)])
    assert result.exit_code == 0, result.output
    assert path.stat().st_size > 0 and "Backed up" in result.output

    with app.app_context():  # the day goes on, and then a cached balance is damaged
        more_business(business)
        db.session.execute(update(pt.PointsAccount).values(balance=pt.PointsAccount.balance + 7))
        db.session.commit()
        assert snapshot() != before
        assert not ledgers_clean()

    result = runner.invoke(args=["restore", str(path)], input="n\n")
    assert result.exit_code != 0 and "Continue?" in result.output
    with app.app_context():
        assert snapshot() != before  # not confirmed: nothing replaced

    result = runner.invoke(args=["restore", str(path), "--yes"])
    assert result.exit_code == 0, result.output
    assert "Restored" in result.output
    with app.app_context():
        after = snapshot()
        assert after.keys() == before.keys()
        for table in before:
            assert after[table] == before[table], table
        assert ledgers_clean()
        # The restored database takes new work (ids and sequences carry on), ledgers still agree.
        order = more_business(business)
        assert order.id > max(row.id for row in before["orders"])
        assert ledgers_clean()
    # What the restore replaced was kept.
    kept = list((tmp_path / "instance").glob("before-restore-*"))
    assert len(kept) == 1 and kept[0].stat().st_size > 0


@pytest.mark.skipif(is_postgres(), reason="SQLite's online backup; pg_dump reads one snapshot")
def test_a_sqlite_backup_taken_while_payments_are_written_is_whole(fresh_app, tmp_path):
    app, runner = fresh_app, fresh_app.test_cli_runner()
    with app.app_context():
        begin_write()
        warehouse, finance = make_warehouse(), make_user(["finance"])
        order = make_order(warehouse=warehouse, lines=[{
            "product": make_stocked_product(warehouse, 10, sale_price=1000000), "quantity": 1}])
        db.session.commit()
        order_id, finance_id = order.id, finance.id
    stop, written = threading.Event(), []

    def cashier():
        while not stop.is_set() and len(written) < 2000:
            with app.app_context():
                begin_write()
                from models.accounts import User
                o.receive_payment(db.session.get(o.Order, order_id), amount=100, method="cash",
                                  actor=db.session.get(User, finance_id), token=new_token())
                db.session.commit()
                written.append(1)

    thread = threading.Thread(target=cashier)
    thread.start()
    try:
        counts = []
        for n in range(3):
            while len(written) < 20 * (n + 1):
                stop.wait(0.01)
            path = tmp_path / f"during-{n}.db"
            result = runner.invoke(args=["backup", str(path)])
            assert result.exit_code == 0, result.output
            conn = sqlite3.connect(path)
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            counts.append(conn.execute("SELECT count(*) FROM payments").fetchone()[0])
            conn.close()
            copy = make_test_app(f"sqlite:///{path}", tmp_path / f"copy-{n}")
            with copy.app_context():
                assert ledgers_clean(), check_ledgers()
                paid = db.session.scalar(select(o.Order.paid).where(o.Order.id == order_id))
                assert paid == 100 * counts[-1]
                db.engine.dispose()
    finally:
        stop.set()
        thread.join()
    assert counts == sorted(counts) and counts[0] >= 20 and counts[-1] < len(written) + 1


@pytest.mark.skipif(is_postgres(), reason="files crafted for SQLite")
def test_restore_refuses_what_it_cannot_restore_and_changes_nothing(fresh_app, tmp_path):
    app, runner = fresh_app, fresh_app.test_cli_runner()
    with app.app_context():
        fill_every_ledger()
        before = snapshot()
    good = tmp_path / "good.db"
    assert runner.invoke(args=["backup", str(good)]).exit_code == 0

    not_a_backup = tmp_path / "notes.txt"
    not_a_backup.write_text("顾客名单")
    newer = tmp_path / "newer.db"
    shutil.copy(good, newer)
    conn = sqlite3.connect(newer)
    conn.execute("UPDATE alembic_version SET version_num = 'ffff00001111'")
    conn.commit()
    conn.close()
    damaged = tmp_path / "damaged.db"
    data = bytearray(good.read_bytes())
    data[4096 * 3:4096 * 6] = b"\xff" * (4096 * 3)
    damaged.write_bytes(bytes(data))

    cases = [(tmp_path / "missing.db", "No backup file"),
             (not_a_backup, "is not a SQLite backup"),
             (newer, "schema revision ffff00001111 is unknown"),
             (damaged, "damaged")]
    for path, message in cases:
        result = runner.invoke(args=["restore", str(path), "--yes"])
        assert result.exit_code == 1, (path, result.output)
        assert message in result.output, result.output
    with app.app_context():
        assert snapshot() == before
    assert not list((tmp_path / "instance").glob("before-restore-*"))


def test_without_the_postgresql_client_tools_the_message_says_what_to_install(
        tmp_path, monkeypatch):
    app = make_test_app("postgresql+psycopg://hxt:secret@127.0.0.1:5432/hxt", tmp_path)
    dump = tmp_path / "hxt.dump"
    dump.write_bytes(b"PGDMP\x01\x0e\x00")
    monkeypatch.setenv("PATH", str(tmp_path))  # no pg_dump, no pg_restore
    runner = app.test_cli_runner()
    for args, tool in ((["backup", str(tmp_path / "new.dump")], "pg_dump"),
                       (["restore", str(dump), "--yes"], "pg_restore")):
        result = runner.invoke(args=args)
        assert result.exit_code == 1
        assert f"找不到 {tool}" in result.output and "postgresql-client" in result.output
        assert f"{tool} not found" in result.output
    assert not (tmp_path / "new.dump").exists()

"""PGBOUNCER_TRANSACTION_MODE (issue 29 §4): behind PgBouncer in transaction mode a connection's
next transaction may run on another server connection, so nothing may rely on what a server
connection remembers. The one such thing the app would otherwise leave there is psycopg's
prepared statements (it prepares a statement run 5 times on one connection). With the setting,
none is ever prepared, on the main engine and on the reports engine. PostgreSQL only."""
import pytest
from sqlalchemy import text

import extensions
from extensions import db
from tests.conftest import is_postgres, make_test_app, TEST_DATABASE_URL

pytestmark = pytest.mark.skipif(not is_postgres(), reason="prepared statements: PostgreSQL")

SAME_QUERY = text("SELECT count(*) FROM pg_class WHERE relkind = :kind")


def _prepared_after_repeats(engine):
    """How many statements the server prepared for one connection that ran the same query 10
    times (and then asked)."""
    with engine.connect() as conn:
        for _n in range(10):
            conn.execute(SAME_QUERY, {"kind": "r"}).scalar()
        return conn.execute(text("SELECT count(*) FROM pg_prepared_statements")).scalar()


@pytest.mark.parametrize("pgbouncer", [False, True])
def test_no_prepared_statements_behind_pgbouncer(tmp_path, pgbouncer):
    app = make_test_app(TEST_DATABASE_URL, tmp_path, PGBOUNCER_TRANSACTION_MODE=pgbouncer,
                        REPORTS_DATABASE_URL=TEST_DATABASE_URL)
    try:
        with app.app_context():
            main = _prepared_after_repeats(db.engine)
            reports = _prepared_after_repeats(db.engines[extensions.REPORTS])
    finally:
        with app.app_context():
            for engine in db.engines.values():
                engine.dispose()
        db.metadatas.pop(extensions.REPORTS, None)
    if pgbouncer:
        assert (main, reports) == (0, 0)
    else:  # psycopg's default: what PgBouncer in transaction mode would lose
        assert main >= 1 and reports >= 1


def test_every_connection_runs_without_jit(tmp_path):
    """Compiling a statement costs 40–70 ms, more than most of the app's statements run (the
    company summary at two million customers: 5.8 → 5.0 s): off on both engines. Behind
    PgBouncer no startup option passes, and none is sent (README: set it on the database)."""
    app = make_test_app(TEST_DATABASE_URL, tmp_path, REPORTS_DATABASE_URL=TEST_DATABASE_URL)
    try:
        with app.app_context():
            said = []
            for engine in (db.engine, db.engines[extensions.REPORTS]):
                with engine.connect() as conn:
                    said.append(conn.execute(text("SHOW jit")).scalar())
            with db.engine.connect() as conn:
                default = conn.execute(text("SELECT boot_val FROM pg_settings "
                                            "WHERE name = 'jit'")).scalar()
    finally:
        with app.app_context():
            for engine in db.engines.values():
                engine.dispose()
        db.metadatas.pop(extensions.REPORTS, None)
    assert said == ["off", "off"] and default == "on"

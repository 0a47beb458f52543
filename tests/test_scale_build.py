"""The scale database of issue 29 (bench/scale.py --build), built at a thousandth of its size
through the same code into a throwaway PostgreSQL database: every ledger agrees
(`check-ledgers`), every foreign key holds (the build does not check them row by row), and the
shape the measurements rely on is there."""
import sys
from pathlib import Path

import psycopg
import pytest

from app import create_app
from extensions import db
from models.ledgers import check_ledgers
from tests.conftest import TEST_DATABASE_URL, create_throwaway_database, is_postgres

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
import scale  # noqa: E402  (bench/scale.py)

pytestmark = pytest.mark.skipif(
    not is_postgres(), reason="the scale build is PostgreSQL's (COPY, dropped indexes): set "
                              "TEST_DATABASE_URL to a PostgreSQL server to run it")

#: Foreign keys of one column that do not hold: (table, column, rows).
BROKEN_KEYS = """
SELECT c.conrelid::regclass::text, a.attname, r.relname, ra.attname
FROM pg_constraint c
JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
JOIN pg_class r ON r.oid = c.confrelid
JOIN pg_attribute ra ON ra.attrelid = c.confrelid AND ra.attnum = c.confkey[1]
WHERE c.contype = 'f' AND array_length(c.conkey, 1) = 1 AND c.connamespace = 'public'::regnamespace
ORDER BY 1, 2
"""


@pytest.fixture(scope="module")
def built():
    url, drop = create_throwaway_database("hxt_scale")
    try:
        figures = scale.build(url, scale=0.001, progress=lambda message: None)
        yield url, figures
    finally:
        drop()


def test_a_thousandth_of_the_counts(built):
    _url, figures = built
    assert figures["customers"] == 2000 and figures["orders"] == 3000
    assert figures["tasks"] == 5000
    for key, full in (("invitations", 2_000_000), ("check_ins", 1_200_000),
                      ("order_lines", 6_000_000), ("payments", 5_000_000),
                      ("stock_moves", 8_000_000), ("points_entries", 3_000_000),
                      ("custody_entries", 1_000_000)):
        assert 0.7 * full / 1000 <= figures[key] <= 1.3 * full / 1000, (key, figures[key])


def test_the_ledgers_agree(built):
    url, _figures = built
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "TESTING": True})
    with app.app_context():
        problems = check_ledgers()
        db.session.remove()
        db.engine.dispose()
    assert {name: found[:5] for name, found in problems.items() if found} == {}
    assert set(problems) >= {"stock", "points", "custody", "payments", "gifts"}


def test_every_foreign_key_holds(built):
    url, _figures = built
    broken = []
    with psycopg.connect(scale.conninfo(url)) as conn:
        for table, column, target, key in conn.execute(BROKEN_KEYS).fetchall():
            count = conn.execute(
                f'SELECT count(*) FROM {table} t WHERE t."{column}" IS NOT NULL AND NOT EXISTS '
                f'(SELECT 1 FROM "{target}" r WHERE r."{key}" = t."{column}")').fetchone()[0]
            if count:
                broken.append((table, column, count))
    assert broken == []


def test_the_shape_the_measurements_read(built):
    """Owners heavy-tailed, most customers 0–3 orders and a tail of dozens, one customer with
    50 orders, an event today with guests still to come, some orders owing, the sequences
    past the rows."""
    url, _figures = built
    with psycopg.connect(scale.conninfo(url)) as conn:
        def one(sql):
            return conn.execute(sql).fetchone()
        most, median = one("SELECT max(n), percentile_cont(0.5) WITHIN GROUP (ORDER BY n) FROM "
                           "(SELECT count(*) n FROM customers WHERE owner_id IS NOT NULL "
                           "GROUP BY owner_id) owned")
        assert most > 3 * median
        buyers, few, top = one("SELECT count(*), count(*) FILTER (WHERE n <= 3), max(n) FROM "
                               "(SELECT count(*) n FROM orders GROUP BY customer_id) bought")
        assert few > 0.7 * buyers and top >= scale.ORDERS_OF_ONE
        assert one("SELECT count(*) FROM orders GROUP BY customer_id "
                   "HAVING count(*) = 50 LIMIT 1") is not None
        assert one("SELECT count(*) FROM invitations i JOIN events e ON e.id = i.event_id "
                   "WHERE e.status = 'in_progress' AND i.status = 'confirmed'")[0] >= 100
        assert one("SELECT count(*) FROM orders WHERE balance_due > 0")[0] > 100
        assert one("SELECT nextval('orders_id_seq')")[0] == 3001

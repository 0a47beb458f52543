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

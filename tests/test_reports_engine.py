"""REPORTS_DATABASE_URL (issue 29 §4): a second engine, a read replica, that the report gathers
and exports read from. Tested with two databases on the same server (two files on SQLite): the
"replica" is a copy of the primary taken before a department was renamed on the primary, so
what a read returns says which engine it went to."""
import shutil
from datetime import timedelta

import psycopg
import pytest
from sqlalchemy import event, func, select
from sqlalchemy.engine import make_url

import extensions
from extensions import db, reading_reports
from models import accounts
from reports import performance
from reports.params import Params
from tests import factories
from tests.conftest import create_throwaway_database, is_postgres, make_test_app

OLD, NEW = "销售一部", "销售二部"


def _dispose(app):
    with app.app_context():
        db.session.remove()
        for engine in db.engines.values():
            engine.dispose()


@pytest.fixture(scope="module")
def databases(tmp_path_factory):
    """(primary URL, replica URL): the replica copied from the primary while its department
    was still called OLD; the primary's is NEW since."""
    folder = tmp_path_factory.mktemp("reports-engine")
    drops = []
    if is_postgres():
        primary, drop = create_throwaway_database("hxt_primary")
        drops.append(drop)
    else:
        primary = f"sqlite:///{folder / 'primary.db'}"
    app = make_test_app(primary, folder)
    with app.app_context():
        db.create_all(bind_key=None)
        department = factories.make_department(OLD)
        factories.make_user(["manager"], username="boss")
        for n in range(3):
            factories.make_user(username=f"m{n}", department=department)
        db.session.commit()
        department_id = department.id
    _dispose(app)
    if is_postgres():
        replica, drop = create_throwaway_database("hxt_replica")
        drops.append(drop)
        drop()  # made again as a copy of the primary (nobody is connected to it now)
        admin = make_url(primary).set(database="postgres")
        with psycopg.connect(admin.set(drivername="postgresql").render_as_string(
                hide_password=False), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{make_url(replica).database}" '
                         f'TEMPLATE "{make_url(primary).database}"')
    else:
        replica = f"sqlite:///{folder / 'replica.db'}"
        shutil.copy(folder / "primary.db", folder / "replica.db")
    with app.app_context():
        db.session.get(accounts.Department, department_id).name = NEW
        db.session.commit()
    _dispose(app)
    yield primary, replica
    for drop in reversed(drops):
        drop()
    # The apps with a replica registered its (empty) metadata on the shared `db`: the apps of
    # the tests that follow have no such bind.
    db.metadatas.pop(extensions.REPORTS, None)


def last_month():
    end = factories.company_today().replace(day=1) - timedelta(days=1)
    return end.replace(day=1), end


def company_names(app):
    """The department names of the company summary, gathered in a fresh session (a row read
    before, by either engine, would keep the values it was read with)."""
    with app.test_request_context():
        boss = accounts.find_user_by_username("boss")
        names = sorted(row["name"] for row in performance.gather_company(
            Params(boss, *last_month()))["rows"])
        db.session.remove()
    return names


def test_the_report_gather_reads_the_reports_engine(databases, tmp_path):
    primary, replica = databases
    app = make_test_app(primary, tmp_path, REPORTS_DATABASE_URL=replica)
    statements = []
    with app.app_context():
        reports_engine = db.engines[extensions.REPORTS]
        assert reports_engine.url.render_as_string(hide_password=False) == replica
        event.listen(reports_engine, "before_cursor_execute",
                     lambda *args: statements.append(args[2]))
    try:
        assert company_names(app) == [OLD]  # the replica's
        gathered = len(statements)
        assert gathered > 0
        with app.app_context():  # anything else reads the primary
            assert db.session.scalar(select(accounts.Department.name)) == NEW
            assert accounts.find_user_by_username("m0").department.name == NEW
        assert len(statements) == gathered
    finally:
        _dispose(app)


def test_writes_inside_a_gather_still_go_to_the_primary(databases, tmp_path):
    """Only SELECTs go to the reports' engine: a flush (an audit entry, a run's progress) and a
    commit inside reading_reports() write the primary."""
    primary, replica = databases
    app = make_test_app(primary, tmp_path, REPORTS_DATABASE_URL=replica)
    try:
        with app.app_context():
            with reading_reports():
                accounts.create_department("新部门", actor=None)
                db.session.commit()
                assert db.session.scalar(select(func.count()).select_from(
                    accounts.Department).where(accounts.Department.name == "新部门")) == 0
            assert db.session.scalar(select(func.count()).select_from(
                accounts.Department).where(accounts.Department.name == "新部门")) == 1
            department = db.session.scalar(select(accounts.Department).where(
                accounts.Department.name == "新部门"))
            db.session.delete(department)
            db.session.commit()
    finally:
        _dispose(app)


def test_unset_the_reports_read_the_main_engine(databases, tmp_path, monkeypatch):
    primary, _replica = databases
    monkeypatch.delenv("REPORTS_DATABASE_URL", raising=False)
    app = make_test_app(primary, tmp_path)
    try:
        with app.app_context():
            assert app.config["REPORTS_DATABASE_URL"] is None
            assert set(db.engines) == {None}
        assert company_names(app) == [NEW]
    finally:
        _dispose(app)

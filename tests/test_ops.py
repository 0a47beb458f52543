"""Running at scale: every request logged with its id and duration; `create-database` makes the
PostgreSQL database `make run-pg` needs when the server lacks it."""
import io
import logging
import re
import runpy
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from ops import request_log
from ops.database import create_database_if_missing
from tests.conftest import TEST_DATABASE_URL, is_postgres, make_test_app


@pytest.fixture
def request_lines():
    """The app's request log, formatted as it is written to stdout in production."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter(request_log.LOG_FORMAT))
    handler.addFilter(request_log.RequestIdFilter())
    logger = logging.getLogger("hxt.request")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield lambda: stream.getvalue().splitlines()
    logger.removeHandler(handler)
    logger.setLevel(level)


def test_an_incoming_request_id_is_returned_and_logged_with_the_duration(client,
                                                                         request_lines):
    response = client.get("/healthz", headers={"X-Request-ID": "nginx-7f3a.01"})
    assert response.status_code == 200
    assert response.headers["X-Request-ID"] == "nginx-7f3a.01"
    [line] = request_lines()
    assert re.search(r"INFO \[nginx-7f3a\.01\] hxt\.request: GET /healthz 200 \d+\.\dms$",
                     line), line


def test_without_an_id_one_is_made_per_request(client, request_lines):
    first = client.get("/healthz").headers["X-Request-ID"]
    second = client.get("/auth/login?next=/customers/%3Fq%3D13800001234").headers[
        "X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", first) and re.fullmatch(r"[0-9a-f]{32}", second)
    assert first != second
    lines = request_lines()
    assert f"[{first}]" in lines[0] and f"[{second}]" in lines[1]
    # The query string (searches carry names and phone numbers) is not logged.
    assert "GET /auth/login 200" in lines[1] and "1380000" not in lines[1]


def test_a_forged_id_is_replaced_and_cannot_write_a_log_line(client, request_lines):
    response = client.get("/healthz", headers={"X-Request-ID": "x] INFO fake: GET /admin 200"})
    made = response.headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", made)
    assert request_lines() == [line for line in request_lines() if f"[{made}]" in line]
    assert "fake" not in "\n".join(request_lines())


def test_requests_refused_before_any_route_are_logged_too(client, request_lines):
    response = client.get("/customers/", headers={"X-Request-ID": "r-1"})
    assert response.status_code == 302  # to the sign-in page
    assert response.headers["X-Request-ID"] == "r-1"
    response = client.post("/auth/login", data={"username": "x"}, csrf=False,
                           headers={"X-Request-ID": "r-2"})
    assert response.status_code == 400 and response.headers["X-Request-ID"] == "r-2"
    lines = request_lines()
    assert "[r-1] hxt.request: GET /customers/ 302" in lines[0]
    assert "[r-2] hxt.request: POST /auth/login 400" in lines[1]


def test_a_gunicorn_worker_logs_to_stdout_with_the_request_id(client, capsys, monkeypatch):
    monkeypatch.setenv("WORKERS", "4")
    monkeypatch.setenv("PORT", "5123")
    config = runpy.run_path(str(Path(__file__).resolve().parent.parent
                                / "deploy" / "gunicorn.conf.py"))
    assert (config["workers"], config["bind"]) == (4, "127.0.0.1:5123")
    root = logging.getLogger()
    saved, level = root.handlers[:], root.level
    root.handlers = []
    try:
        config["post_worker_init"](None)
        client.get("/healthz", headers={"X-Request-ID": "worker-1"})
    finally:
        root.handlers, root.level = saved, level
    out = capsys.readouterr().out
    assert re.search(r"INFO \[worker-1\] hxt\.request: GET /healthz 200 \d+\.\dms", out), out


@pytest.mark.skipif(not is_postgres(), reason="PostgreSQL only: SQLite makes its file itself")
def test_create_database_makes_a_missing_postgresql_database_once(tmp_path):
    name = f"hxt_create_{uuid.uuid4().hex[:8]}"
    url = make_url(TEST_DATABASE_URL).set(drivername="postgresql+psycopg", database=name)
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    exists = text("SELECT count(*) FROM pg_database WHERE datname = :name")
    app = make_test_app(url.render_as_string(hide_password=False), tmp_path)
    try:
        with admin.connect() as conn:
            assert conn.scalar(exists, {"name": name}) == 0
        result = app.test_cli_runner().invoke(args=["create-database"])
        assert result.exit_code == 0 and "Created the database" in result.output
        with admin.connect() as conn:
            assert conn.scalar(exists, {"name": name}) == 1
        result = app.test_cli_runner().invoke(args=["create-database"])
        assert result.exit_code == 0 and "The database is there" in result.output
        assert create_database_if_missing(url.render_as_string(hide_password=False)) is False
    finally:
        with app.app_context():
            from extensions import db
            db.engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_create_database_on_sqlite_makes_the_folder(tmp_path):
    folder = tmp_path / "data" / "hxt"
    assert create_database_if_missing(f"sqlite:///{folder / 'hxt.db'}") is False
    assert folder.is_dir()


def test_a_migration_run_in_the_same_process_leaves_the_request_log_working(tmp_path,
                                                                            request_lines):
    # Alembic's env.py configures logging from alembic.ini; it must not switch off loggers
    # that already exist (a test run, or an app that migrates on start).
    from flask_migrate import upgrade
    app = make_test_app(f"sqlite:///{tmp_path / 'migrated.db'}", tmp_path)
    with app.app_context():
        upgrade()
    assert not logging.getLogger("hxt.request").disabled
    with app.test_client() as client:
        client.get("/healthz", headers={"X-Request-ID": "after-migrate"})
    assert any("[after-migrate] hxt.request: GET /healthz 200" in line
               for line in request_lines())

"""Fixtures (flaskr style): app, db (per-test rollback), committed_db, client, login(role), shop.

The suite runs on SQLite by default and on PostgreSQL when TEST_DATABASE_URL is set (a throwaway
database is created beside the one named there and dropped at the end).
"""
import contextvars
import os
import re
import secrets
import uuid

import pytest
from flask import g
from flask.globals import _cv_app
from flask.testing import FlaskClient
from flask_sqlalchemy.session import Session as FlaskSession
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from app import create_app
from extensions import db as _db
from tests import factories
from tests.shop import make_shop

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "")

#: Fast hashing in tests; production uses werkzeug's default (scrypt).
FAST_HASH = "pbkdf2:sha256:1000"


def _postgres_admin_engine(url):
    return create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")


def create_throwaway_database(prefix="hxt_test"):
    """A new empty database for this run: a PostgreSQL database beside TEST_DATABASE_URL, or
    None for SQLite (the caller then uses a file). Returns (url, drop) ."""
    url = make_url(TEST_DATABASE_URL)
    if not url.drivername.startswith("postgresql"):
        raise RuntimeError("TEST_DATABASE_URL must be a postgresql:// URL")
    if url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = _postgres_admin_engine(url)
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))

    def drop():
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    return url.set(database=name).render_as_string(hide_password=False), drop


def is_postgres():
    return TEST_DATABASE_URL.startswith("postgres")


def pytest_sessionstart(session):
    """Compile the catalogues (as `make` does), so a bare `pytest` shows Chinese too."""
    import sys
    from pathlib import Path
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
    import i18n
    i18n.compile_all()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory):
    if is_postgres():
        url, drop = create_throwaway_database()
        yield url
        drop()
    else:
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"


def make_test_app(database_url, instance_dir, **extra):
    """An app for tests: given database, fast hashing, CSRF on (the client fills it in)."""
    return create_app({
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": database_url,
        "INSTANCE_DIR": str(instance_dir),
        "SECRET_KEY": "test-" + secrets.token_hex(8),
        "PASSWORD_HASH_METHOD": FAST_HASH,
        "SERVER_NAME": None,
        **extra,
    })


@pytest.fixture(scope="session")
def app(database_url, tmp_path_factory):
    app = make_test_app(database_url, tmp_path_factory.mktemp("instance"))
    with app.app_context():
        _db.create_all(bind_key=None)  # the tables (a replica bind has none of its own)
    yield app
    with app.app_context():
        _db.session.remove()
        _db.engine.dispose()


class _BoundSession(FlaskSession):
    """A session that always uses the test's connection (Flask-SQLAlchemy's get_bind would
    otherwise pick the engine)."""

    def get_bind(self, *args, **kwargs):
        return self.bind


@pytest.fixture
def db(app):
    """The database, with everything the test (and its requests) write rolled back after it.

    The test body runs in an app context; requests made by `client` get their own app context
    and session, both on the same connection, so the test sees what a request committed.
    """
    with app.app_context():
        connection = _db.engine.connect()
        transaction = connection.begin()
        original = _db.session
        _db.session = _db._make_scoped_session({
            "class_": _BoundSession, "bind": connection,
            "join_transaction_mode": "create_savepoint"})
        try:
            yield _db
        finally:
            _db.session.remove()
            _db.session = original
            transaction.rollback()
            connection.close()


@pytest.fixture
def committed_db(app):
    """The real database, committed for real (for threaded and concurrency tests); every table
    is emptied afterwards."""
    with app.app_context():
        yield _db
        _db.session.remove()
        with _db.engine.begin() as conn:
            for table in reversed(_db.metadata.sorted_tables):
                conn.execute(table.delete())


class Client(FlaskClient):
    """A test client that runs each request in its own app context (as in production) and fills
    in the CSRF token of form posts unless csrf=False is passed."""

    def open(self, *args, csrf=True, **kwargs):
        method = (kwargs.get("method") or "GET").upper()
        if csrf and method not in ("GET", "HEAD", "OPTIONS"):
            data = kwargs.get("data")
            if data is None or isinstance(data, dict):
                kwargs["data"] = {"csrf_token": self.csrf_token(), **(data or {})}

        def run():
            _cv_app.set(None)  # the request pushes its own app context, g and session
            return super(Client, self).open(*args, **kwargs)
        response = contextvars.copy_context().run(run)
        if _cv_app.get(None) is not None:
            _db.session.expire_all()  # the test's session sees what the request wrote
            g.pop("_settings", None)  # and re-reads the settings
        return response

    def csrf_token(self):
        """A valid CSRF token for this client's session (as Flask-WTF would render it)."""
        with self.session_transaction() as session:
            raw = session.setdefault("csrf_token", secrets.token_hex(20))
        return URLSafeTimedSerializer(self.application.secret_key,
                                      salt="wtf-csrf-token").dumps(raw)


@pytest.fixture
def client(app, db):
    app.test_client_class = Client
    return app.test_client()


@pytest.fixture
def login(client):
    """login(user_or_role) signs the client in as that user, or as a new user with that role."""
    def do_login(who, password=factories.PASSWORD):
        user = who if not isinstance(who, str) else factories.make_user(roles=[who])
        response = client.post("/auth/login", data={"username": user.username,
                                                    "password": password})
        assert response.status_code == 302, response.get_data(as_text=True)[:500]
        return user
    return do_login


@pytest.fixture
def shop(db, request):
    """The shop of tests/shop.py; a module's or test's @pytest.mark.shop(price=..., stock=...,
    cup_stock=...) sets its prices and stock."""
    marker = request.node.get_closest_marker("shop")
    return make_shop(**(marker.kwargs if marker else {}))


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


def page_text(response):
    """The visible text of an HTML response, tags stripped and whitespace collapsed."""
    html = response.get_data(as_text=True)
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()

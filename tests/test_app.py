"""Health check, demo data, configuration, error pages."""
import os

import pytest
from sqlalchemy import func, select

from blueprints.admin.commands import DEMO_CUSTOMERS, DEMO_USERS
from models.customers import Customer
from config import ConfigError, build_config
from models.accounts import Department, User
from tests.conftest import is_postgres, make_test_app, page_text


def test_healthz_reports_ok(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "db": "ok"}


def test_healthz_reports_503_when_the_database_is_unreachable(tmp_path):
    app = make_test_app("postgresql+psycopg://nobody@127.0.0.1:1/none", tmp_path)
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "error" and body["db"]


def test_demo_data_fills_an_empty_database_once(db, runner):
    result = runner.invoke(args=["demo-data"])
    assert result.exit_code == 0, result.output
    for username, _name, _roles, _dept, password in DEMO_USERS:
        assert f"{username}" in result.output and password in result.output
    users = db.session.scalar(select(func.count(User.id)))
    departments = db.session.scalar(select(func.count(Department.id)))
    assert users == len(DEMO_USERS) and departments == 6
    assert db.session.scalar(select(func.count(Customer.id))) == len(DEMO_CUSTOMERS)
    again = runner.invoke(args=["demo-data"])
    assert again.exit_code == 0 and "未写入任何内容" in again.output
    assert db.session.scalar(select(func.count(User.id))) == users
    assert db.session.scalar(select(func.count(Department.id))) == departments
    skipped = runner.invoke(args=["demo-data", "--if-empty"])
    assert "跳过" in skipped.output


def test_every_demo_role_can_sign_in(db, runner, client):
    runner.invoke(args=["demo-data"])
    roles = set()
    for username, name, user_roles, _dept, password in DEMO_USERS:
        response = client.post("/auth/login", data={"username": username,
                                                    "password": password})
        assert response.status_code == 302, username
        assert name in page_text(client.get("/"))
        client.post("/auth/logout")
        roles.update(user_roles)
    assert roles == {"admin", "manager", "dept_head", "marketer", "event_staff", "warehouse",
                     "finance"}


def test_create_admin_command(db, runner):
    result = runner.invoke(args=["create-admin", "boss", "--name", "老板",
                                 "--password", "boss2026x"])
    assert result.exit_code == 0, result.output
    assert db.session.scalar(select(User).where(User.username == "boss")).roles == ["admin"]
    result = runner.invoke(args=["create-admin", "boss2", "--password", "weak"])
    assert result.exit_code != 0 and "8" in result.output


def test_secret_key_is_generated_once_and_kept(tmp_path, monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    first = build_config({"INSTANCE_DIR": str(tmp_path)})["SECRET_KEY"]
    second = build_config({"INSTANCE_DIR": str(tmp_path)})["SECRET_KEY"]
    assert first == second and len(first) >= 32
    assert oct(os.stat(tmp_path / "secret_key").st_mode)[-3:] == "600"
    monkeypatch.setenv("SECRET_KEY", "from-the-environment")
    assert build_config({"INSTANCE_DIR": str(tmp_path)})["SECRET_KEY"] == "from-the-environment"


def test_production_refuses_to_start_without_secrets(tmp_path, monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    with pytest.raises(ConfigError, match="SECRET_KEY and DATABASE_URL"):
        build_config({"APP_ENV": "production", "INSTANCE_DIR": str(tmp_path)})


def test_database_url_defaults_to_sqlite_in_instance_and_normalises_postgres(tmp_path,
                                                                             monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    config = build_config({"INSTANCE_DIR": str(tmp_path)})
    assert config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'huixiaotong.db'}"
    monkeypatch.setenv("DATABASE_URL", "postgres://u@h:5432/d")
    assert build_config({"INSTANCE_DIR": str(tmp_path)})["SQLALCHEMY_DATABASE_URI"] == \
        "postgresql+psycopg://u@h:5432/d"


def test_sqlite_runs_with_wal_and_foreign_keys(tmp_path):
    app = make_test_app(f"sqlite:///{tmp_path / 'wal.db'}", tmp_path)
    from extensions import db
    with app.app_context():
        with db.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        db.engine.dispose()


def test_unexpected_error_is_a_chinese_500_page(app, client, login, monkeypatch):
    login("admin")
    import blueprints.admin.routes as routes
    monkeypatch.setattr(routes, "visible_users", lambda user: 1 / 0)
    response = client.get("/admin/users")
    assert response.status_code == 500
    assert "出错" in page_text(response)


def _pooled_backend_pid(engine):
    with engine.connect() as conn:
        return conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()


def _drop_backend(engine, pid):
    """What a database restart or a dropped network does to a pooled connection."""
    from sqlalchemy import create_engine
    from sqlalchemy.pool import NullPool
    killer = create_engine(engine.url, poolclass=NullPool)
    with killer.connect() as conn:
        conn.exec_driver_sql(f"SELECT pg_terminate_backend({int(pid)})")
    killer.dispose()


@pytest.mark.skipif(not is_postgres(), reason="PostgreSQL connections only")
@pytest.mark.parametrize("rested", [True, False])
def test_a_rested_connection_the_server_dropped_is_replaced_before_use(app, monkeypatch,
                                                                       rested):
    import extensions
    from sqlalchemy.exc import OperationalError
    with app.app_context():
        engine = extensions.db.engine
        assert app.config["SQLALCHEMY_ENGINE_OPTIONS"]["pool_pre_ping"] is False
        engine.dispose()  # one connection in the pool: the one dropped below
        pid = _pooled_backend_pid(engine)
        _drop_backend(engine, pid)
        monkeypatch.setattr(extensions, "PING_AFTER_REST_S", -1 if rested else 3600)
        if rested:  # pinged, found gone, replaced: the caller never sees it
            assert _pooled_backend_pid(engine) != pid
        else:  # used again at once, not pinged: the first statement fails, the pool is renewed
            with pytest.raises(OperationalError):
                _pooled_backend_pid(engine)
            assert _pooled_backend_pid(engine) != pid


@pytest.mark.skipif(not is_postgres(), reason="psycopg's prepared statements: PostgreSQL only")
def test_a_request_that_only_read_ends_with_commit_and_one_that_wrote_with_rollback(
        app, committed_db):
    """psycopg throws its prepared statements away at every ROLLBACK: a request that only read
    ends with COMMIT instead; one that wrote and did not commit is still rolled back."""
    from sqlalchemy import event, insert, select
    from models.settings import Setting
    ends = []

    def note(kind):
        return lambda conn: ends.append(kind)
    on_commit, on_rollback = note("commit"), note("rollback")
    engine = committed_db.engine
    event.listen(engine, "commit", on_commit)
    event.listen(engine, "rollback", on_rollback)
    try:
        with app.app_context():
            committed_db.session.execute(select(Setting.key)).all()
        assert ends == ["commit"]
        ends.clear()
        with app.app_context():
            committed_db.session.execute(insert(Setting).values(key="test.unsaved", value=1))
        assert ends == ["rollback"]
        assert committed_db.session.get(Setting, "test.unsaved") is None
    finally:
        event.remove(engine, "commit", on_commit)
        event.remove(engine, "rollback", on_rollback)

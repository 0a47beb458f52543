"""Configuration: read from the environment, with explicit defaults.

The embedded default is a SQLite file under ``instance/``; ``DATABASE_URL`` points the app at
PostgreSQL. ``SECRET_KEY`` comes from the environment or, failing that, is generated once and kept
in ``instance/secret_key`` — never a constant in the code. With ``APP_ENV=production`` the app
refuses to start unless both ``SECRET_KEY`` and ``DATABASE_URL`` are set.
"""
import os
import secrets
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent


class ConfigError(RuntimeError):
    """A setting the app cannot start without is missing or wrong."""


def instance_dir(config=None):
    """The instance folder (runtime data: the SQLite file, the generated secret key)."""
    path = Path((config or {}).get("INSTANCE_DIR") or os.environ.get("INSTANCE_DIR")
                or BASE_DIR / "instance")
    path.mkdir(parents=True, exist_ok=True)
    return path


def _secret_key(folder):
    """SECRET_KEY from the environment, else the one kept in the instance folder (made once)."""
    if key := os.environ.get("SECRET_KEY"):
        return key
    key_file = folder / "secret_key"
    if not key_file.exists():
        # O_EXCL: two workers starting at once must not write two different keys.
        try:
            fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_hex(32))
    return key_file.read_text().strip()


def database_url(folder):
    """DATABASE_URL, normalised for SQLAlchemy + psycopg 3; default a SQLite file in instance/."""
    url = os.environ.get("DATABASE_URL")
    if not url:
        return f"sqlite:///{folder / 'huixiaotong.db'}"
    return _normalised(url)


def reports_database_url():
    """REPORTS_DATABASE_URL (a read replica for the report gathers and exports), normalised;
    None when unset: the reports read through the main engine."""
    url = os.environ.get("REPORTS_DATABASE_URL")
    return _normalised(url) if url else None


def _normalised(url):
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://"):]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    return url


def build_config(overrides=None):
    """Return the configuration mapping for create_app(); `overrides` wins over the environment."""
    overrides = dict(overrides or {})
    production = (overrides.get("APP_ENV") or os.environ.get("APP_ENV")) == "production"
    if production:
        missing = [name for name in ("SECRET_KEY", "DATABASE_URL")
                   if not (overrides.get(name) or os.environ.get(name))]
        if missing:
            raise ConfigError("APP_ENV=production needs " + " and ".join(missing)
                              + " set in the environment")
    folder = instance_dir(overrides)
    config = {
        "APP_ENV": "production" if production else os.environ.get("APP_ENV", "development"),
        "INSTANCE_DIR": str(folder),
        "SECRET_KEY": overrides.get("SECRET_KEY") or _secret_key(folder),
        "SQLALCHEMY_DATABASE_URI": database_url(folder),
        #: Where report gathers and exports read (extensions.reading_reports); None: the main.
        "REPORTS_DATABASE_URL": reports_database_url(),
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        # Sessions: HttpOnly and SameSite=Lax always; Secure is decided per request (HTTPS) by
        # the session interface in app.py, or forced on with SESSION_COOKIE_SECURE=1.
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": os.environ.get("SESSION_COOKIE_SECURE") == "1",
        "SESSION_COOKIE_NAME": "hxt_session",
        "PERMANENT_SESSION_LIFETIME": 12 * 3600,
        #: A signed-in session's cookie is renewed (its lifetime restarted) at most this often.
        "SESSION_RENEW_AFTER_S": 60,
        "REMEMBER_COOKIE_HTTPONLY": True,
        "WTF_CSRF_TIME_LIMIT": 12 * 3600,
        #: Reverse proxies in front of the app whose X-Forwarded-For/-Proto are trusted (0: none).
        "TRUSTED_PROXIES": int(os.environ.get("TRUSTED_PROXIES", 0)),
        "MAX_CONTENT_LENGTH": int(os.environ.get("MAX_CONTENT_LENGTH", 20 * 1024 * 1024)),
        "BABEL_DEFAULT_LOCALE": "zh_CN",
        "BABEL_TRANSLATION_DIRECTORIES": str(BASE_DIR / "translations"),
        "LANGUAGES": {"zh_CN": "简体中文", "en": "English"},
        #: Used until an admin sets the company time zone in the settings.
        "DEFAULT_TIMEZONE": "Asia/Shanghai",
        "SQLITE_BUSY_TIMEOUT_S": 15,
        #: 1 when DATABASE_URL (and REPORTS_DATABASE_URL) go through PgBouncer in transaction
        #: mode: each transaction may run on another server connection, so psycopg must not
        #: prepare statements on the server (its default prepares a statement run 5 times on a
        #: connection; PgBouncer before 1.21 cannot follow them). Nothing else in the app keeps
        #: session state (README "Running at scale").
        "PGBOUNCER_TRANSACTION_MODE": os.environ.get("PGBOUNCER_TRANSACTION_MODE") == "1",
        #: PostgreSQL's memory for each sort or hash of a nightly job's transaction (SET LOCAL,
        #: so the job's transaction alone; "" leaves the server's setting). The server's default
        #: 4 MB sent the RFM scores' three rankings of a million customers to disk: 20 -> 13 s.
        "JOB_WORK_MEM": os.environ.get("JOB_WORK_MEM", "64MB"),
    }
    config.update(overrides)
    return config

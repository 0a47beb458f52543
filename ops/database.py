"""The database as a whole: create it when missing, back it up, restore it.

SQLite is copied with its online backup API (``sqlite3.Connection.backup``): one read
transaction over a consistent snapshot, so a backup taken while the app serves is whole, and
writers are not held up (WAL). PostgreSQL uses ``pg_dump -Fc`` and ``pg_restore --clean`` in a
single transaction; they must be on PATH (the ``postgresql-client`` package, at least the server's
version), else a clear message says so.

A restore replaces every row. It refuses a file that is not a backup of this kind of database,
a damaged one, and one whose schema revision this version of the code does not know (a backup
from a newer version). It writes a safety copy of the current data first.
"""
import fcntl
import os
import shutil
import sqlite3
import subprocess
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

SQLITE_MAGIC = b"SQLite format 3\x00"
PG_CUSTOM_MAGIC = b"PGDMP"


class DatabaseOpError(Exception):
    """The operation cannot be done; the message (Chinese, then English) says why."""


# --- Which database ----------------------------------------------------------------------------

def kind_of(uri):
    """"sqlite" or "postgresql" for a SQLAlchemy URL; anything else is refused."""
    backend = make_url(uri).get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise DatabaseOpError(f"不支持的数据库类型 {backend}。 Unsupported database: {backend}.")
    return backend


def sqlite_path(uri):
    """The file of a SQLite URL (an in-memory database has none)."""
    database = make_url(uri).database
    if not database or database == ":memory:" or database.startswith("file:"):
        raise DatabaseOpError("内存中的 SQLite 数据库无法备份或恢复。 "
                              "An in-memory SQLite database cannot be backed up or restored.")
    return Path(os.path.abspath(database))


def _libpq(uri):
    """(URL for the PostgreSQL client tools, environment): the password goes in PGPASSWORD, not
    on the command line where `ps` would show it."""
    url = make_url(uri)
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    return url.set(drivername="postgresql", password=None).render_as_string(
        hide_password=False), env


def _tool(name):
    path = shutil.which(name)
    if path is None:
        raise DatabaseOpError(
            f"找不到 {name}：请安装 PostgreSQL 客户端工具（Debian/Ubuntu：apt-get install "
            f"postgresql-client，版本不低于服务器），或将其所在目录加入 PATH。 "
            f"{name} not found: install the PostgreSQL client tools (postgresql-client, the "
            f"server's version or newer) or put their directory on PATH.")
    return path


def _run(args, env=None):
    result = subprocess.run(args, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        detail = (result.stderr or result.stdout).strip().splitlines()
        raise DatabaseOpError(f"{Path(args[0]).name} 失败 failed: "
                              + " / ".join(detail[-3:]))
    return result.stdout


# --- Create when missing -----------------------------------------------------------------------

def create_database_if_missing(uri):
    """Create the PostgreSQL database of `uri` if the server does not have it (connecting to the
    server's `postgres` database to do so). Returns True if it was created. A SQLite file is made
    on first use; only its folder is created here."""
    if kind_of(uri) == "sqlite":
        sqlite_path(uri).parent.mkdir(parents=True, exist_ok=True)
        return False
    url = make_url(uri)
    name = url.database
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            if conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :name"),
                           {"name": name}):
                return False
            conn.execute(text("CREATE DATABASE " + conn.dialect.identifier_preparer.quote(name)))
            return True
    finally:
        admin.dispose()


# --- Backup --------------------------------------------------------------------------------------

def backup(uri, path):
    """Write a backup of the database at `uri` to `path` (replaced only once it is complete).
    Returns the path."""
    path = Path(path).resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    try:
        if kind_of(uri) == "sqlite":
            _sqlite_backup(sqlite_path(uri), partial)
        else:
            target, env = _libpq(uri)
            _run([_tool("pg_dump"), "--format=custom", "--no-owner", "--no-privileges",
                  "--file", str(partial), "--dbname", target], env)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return path


def _sqlite_backup(source_path, target_path):
    if not source_path.exists():
        raise DatabaseOpError(f"数据库文件不存在：{source_path}。 "
                              f"The database file does not exist: {source_path}.")
    target_path.unlink(missing_ok=True)
    source = sqlite3.connect(f"file:{source_path}?mode=ro", uri=True, timeout=30)
    target = sqlite3.connect(target_path)
    try:
        source.backup(target)  # every page in one step: one consistent snapshot
        # A self-contained file: no -wal beside it.
        target.execute("PRAGMA journal_mode=DELETE")
    finally:
        target.close()
        source.close()


# --- What a backup holds -------------------------------------------------------------------------

def backup_kind(path):
    """"sqlite" or "postgresql" by the file's first bytes, else None."""
    with open(path, "rb") as fh:
        head = fh.read(16)
    if head.startswith(SQLITE_MAGIC):
        return "sqlite"
    if head.startswith(PG_CUSTOM_MAGIC):
        return "postgresql"
    return None


def backup_revision(path):
    """The schema revision (alembic_version) stored in a backup, or None."""
    if backup_kind(path) == "sqlite":
        conn = sqlite3.connect(f"file:{Path(path).resolve()}?mode=ro", uri=True)
        try:
            row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
        except sqlite3.DatabaseError:
            return None
        finally:
            conn.close()
        return row[0] if row else None
    listing = _run([_tool("pg_restore"), "--data-only", "--table=alembic_version",
                    "--file=-", str(path)])
    lines = listing.splitlines()
    for index, line in enumerate(lines):
        if line.startswith("COPY ") and "alembic_version" in line:
            value = lines[index + 1].strip() if index + 1 < len(lines) else ""
            return None if value in ("", "\\.") else value
    return None


def check_backup(uri, path, known_revisions):
    """Refuse a backup that cannot be restored into `uri`; return its schema revision."""
    path = Path(path)
    if not path.is_file():
        raise DatabaseOpError(f"找不到备份文件：{path}。 No backup file at {path}.")
    kind = kind_of(uri)
    found = backup_kind(path)
    if found != kind:
        what = {"sqlite": "SQLite", "postgresql": "PostgreSQL (pg_dump -Fc)"}
        raise DatabaseOpError(
            f"{path} 不是 {what[kind]} 备份文件。 {path} is not a {what[kind]} backup.")
    if kind == "sqlite":
        conn = sqlite3.connect(f"file:{path.resolve()}?mode=ro", uri=True)
        try:
            verdict = conn.execute("PRAGMA quick_check").fetchone()[0]
        except sqlite3.DatabaseError as exc:
            verdict = str(exc)
        finally:
            conn.close()
        if verdict != "ok":
            raise DatabaseOpError(f"备份文件已损坏：{verdict}。 The backup is damaged: {verdict}.")
    revision = backup_revision(path)
    if revision is None:
        raise DatabaseOpError(f"{path} 不是本系统的备份（没有 alembic_version）。 "
                              f"{path} is not a backup of this app (no alembic_version).")
    if revision not in known_revisions:
        raise DatabaseOpError(
            f"备份的数据库版本 {revision} 比本程序新，或不属于本程序：请先升级程序。 "
            f"The backup's schema revision {revision} is unknown to this version of the code "
            f"(a newer version made it): upgrade the code first.")
    return revision


# --- Restore -------------------------------------------------------------------------------------

def safety_copy_path(folder, uri):
    """Where restore() keeps the data it replaces."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    suffix = "db" if kind_of(uri) == "sqlite" else "dump"
    return Path(folder) / f"before-restore-{stamp}.{suffix}"


def restore(uri, path):
    """Replace every row of the database at `uri` with the backup at `path`, in one
    transaction: a reader sees the old data or the restored data, never a mix. The caller has
    checked the file (check_backup) and kept a safety copy."""
    path = Path(path).resolve()
    if kind_of(uri) == "sqlite":
        target_path = sqlite_path(uri)
        source = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        target = sqlite3.connect(target_path, timeout=30)
        try:
            # The same gate the app's writers queue at (extensions.py), so a restore waits for
            # the write in progress and the next one waits for it.
            gate = os.open(str(target_path) + "-writers", os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(gate, fcntl.LOCK_EX)
                source.backup(target)  # all pages in one write transaction
            finally:
                os.close(gate)
        finally:
            target.close()
            source.close()
        return
    target, env = _libpq(uri)
    _run([_tool("pg_restore"), "--clean", "--if-exists", "--single-transaction",
          "--exit-on-error", "--no-owner", "--no-privileges", "--dbname", target, str(path)], env)

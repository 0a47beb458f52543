"""CLI: `flask --app app create-database`, `backup PATH`, `restore PATH [--yes]`."""
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy.engine import make_url

from extensions import db
from ops import database


def _uri():
    return current_app.config["SQLALCHEMY_DATABASE_URI"]


def _shown(uri):
    return make_url(uri).render_as_string(hide_password=True)


def _known_revisions():
    from alembic.script import ScriptDirectory
    scripts = ScriptDirectory(current_app.extensions["migrate"].directory)
    return {script.revision for script in scripts.walk_revisions()}, scripts.get_current_head()


@click.command("create-database")
@with_appcontext
def create_database_command():
    """Create the PostgreSQL database named in DATABASE_URL if the server lacks it."""
    uri = _uri()
    try:
        created = database.create_database_if_missing(uri)
    except database.DatabaseOpError as exc:
        raise click.ClickException(str(exc)) from None
    if database.kind_of(uri) == "sqlite":
        click.echo(f"SQLite：文件在首次使用时创建 The file is made on first use: {_shown(uri)}")
    elif created:
        click.echo(f"已创建数据库 Created the database: {_shown(uri)}")
    else:
        click.echo(f"数据库已存在 The database is there: {_shown(uri)}")


@click.command("backup")
@click.argument("path", type=click.Path(dir_okay=False))
@with_appcontext
def backup_command(path):
    """Back up the whole database to PATH (safe while the app serves)."""
    uri = _uri()
    db.session.remove()
    try:
        written = database.backup(uri, path)
    except database.DatabaseOpError as exc:
        raise click.ClickException(str(exc)) from None
    size = written.stat().st_size
    click.echo(f"已备份 Backed up {_shown(uri)} → {written} ({size:,} bytes)")


@click.command("restore")
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@with_appcontext
def restore_command(path, yes):
    """Replace every row of the database with the backup at PATH (asks first unless --yes)."""
    uri = _uri()
    known, head = _known_revisions()
    try:
        revision = database.check_backup(uri, path, known)
    except database.DatabaseOpError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"备份文件 Backup: {Path(path).resolve()} (schema {revision})")
    click.echo(f"目标数据库 Database: {_shown(uri)}")
    if not yes:
        click.confirm("将用备份替换数据库中的全部数据，继续吗？ "
                      "This replaces ALL data in the database with the backup. Continue?",
                      abort=True)
    db.session.remove()
    db.engine.dispose()
    try:
        if database.kind_of(uri) == "postgresql" or database.sqlite_path(uri).exists():
            safety = database.backup(
                uri, database.safety_copy_path(current_app.config["INSTANCE_DIR"], uri))
            click.echo(f"当前数据已另存 The data replaced is kept in: {safety}")
        database.restore(uri, path)
    except database.DatabaseOpError as exc:
        raise click.ClickException(str(exc)) from None
    db.engine.dispose()
    click.echo("已恢复 Restored.")
    if revision != head:
        click.echo("备份来自旧版本：请运行 flask --app app db upgrade。 "
                   "The backup is from an older version: run `flask --app app db upgrade`.")

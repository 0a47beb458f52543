"""Running the app in production: request ids and timings in the log, and the database
commands an operator needs (`create-database`, `backup`, `restore`). Registered by init_app()."""


def init_app(app):
    """Log every request with its id and duration; add the operator's CLI commands."""
    from ops import request_log
    from ops.commands import backup_command, create_database_command, restore_command

    request_log.init_app(app)
    app.cli.add_command(create_database_command)
    app.cli.add_command(backup_command)
    app.cli.add_command(restore_command)

"""Permissions for routes, in one place: sign-in required by default, role checks, safe redirects.

Every route needs a signed-in user unless its view is marked @public (an allow-list, not a
decorator one can forget). Rows are scoped by models.scoping; this module guards routes.
"""
import re
from functools import wraps
from urllib.parse import urlsplit

from flask import abort, current_app, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from extensions import login_manager

#: Endpoints outside any blueprint view that need no sign-in.
PUBLIC_ENDPOINTS = {"static"}


def public(view):
    """Mark a view as reachable without signing in (sign-in page, health check)."""
    view.is_public = True
    return view


def role_required(*roles):
    """Refuse (403) a signed-in user who holds none of `roles`."""
    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if not current_user.has_role(*roles):
                abort(403)
            return view(*args, **kwargs)
        wrapped.required_roles = roles
        return wrapped
    return decorator


def can(endpoint, user=None):
    """Whether `user` (default: the current user) may open `endpoint`: the roles its
    role_required admits, read from the view, so a link and its route cannot disagree. Templates
    call it as ``can('orders.new')`` instead of repeating the route's roles."""
    user = user or current_user
    view = current_app.view_functions.get(endpoint)
    if view is None:
        raise KeyError(endpoint)  # a typo in a template must not hide a button silently
    if not getattr(user, "is_authenticated", False):
        return bool(getattr(view, "is_public", False))
    roles = getattr(view, "required_roles", ())
    return not roles or user.has_role(*roles)


def is_public_endpoint(endpoint):
    """True if `endpoint` may be served without a signed-in user."""
    if endpoint is None or endpoint in PUBLIC_ENDPOINTS:
        return True
    view = current_app.view_functions.get(endpoint)
    return bool(getattr(view, "is_public", False))


def require_sign_in():
    """before_request hook: every non-public endpoint needs a signed-in, active user."""
    if is_public_endpoint(request.endpoint):
        return None
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    if current_user.must_change_password and request.endpoint not in FIRST_PASSWORD_ENDPOINTS:
        flash(_("Set a password of your own before you go on: the first one was given to "
                "you."), "warning")
        return redirect(url_for("auth.password"))
    return None


#: Where a user with a first password may go: the password change, and away.
FIRST_PASSWORD_ENDPOINTS = {"auth.password", "auth.logout", "static"}


def safe_next(target, default):
    """`target` if it is a path on this site ("/customers/?q=王"), else `default`: the one check
    of every "where to go next" a request names (`next`, `back`), so none is an open redirect.

    Refused: anything with a scheme or host ("https://x", "javascript:"), scheme-relative
    ("//x", "/\\x": browsers read a backslash as a slash), not starting with "/", and any
    control character (browsers drop tabs and newlines, which turns "/\\t/x" into "//x").
    """
    if not target or not isinstance(target, str) or len(target) > 2000:
        return default
    if not target.startswith("/") or target.startswith("//") or "\\" in target or \
            _CONTROL.search(target):
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return default
    return target


#: C0 and C1 control characters and DEL.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")

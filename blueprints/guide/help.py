"""Where the 帮助 link of a page leads: the guide's task done on that page, in the guide of one
of the user's roles first; else the guide of the user's first role."""
from flask import request, url_for
from flask_login import current_user

from blueprints.guide.content import GUIDES
from models.accounts import ROLES


def _roles(user):
    """The user's roles in the order of ROLES (admin first … finance last)."""
    return [role for role in ROLES if role in GUIDES and user.has_role(role)]


def help_target(endpoint, user):
    """(role, anchor or None) of the guide section for `endpoint`, for `user`."""
    mine = _roles(user)
    own = mine[0] if mine else next(iter(GUIDES))
    area = (endpoint or "").split(".", 1)[0]
    # The task done on this very page, in the user's own guides.
    found = _task_for(endpoint, mine)
    if found or area in ("main", "guide"):  # the home page and the guide: one's own guide
        return found or (own, None)
    # Another page of an area one of the user's guides covers: that guide.
    for role in mine:
        if area in GUIDES[role].areas:
            return role, None
    # A page another role's guide explains (a manager planning an event), else one's own.
    others = [role for role in ROLES if role in GUIDES and role not in mine]
    return _task_for(endpoint, others) or (own, None)


def _task_for(endpoint, roles):
    """(role, anchor) of the first task of `roles`' guides done on `endpoint`, or None."""
    for role in roles:
        for task in GUIDES[role].tasks:
            if endpoint in task.endpoints:
                return role, task.anchor
    return None


def help_url(user=None):
    """The 帮助 link of the page being shown."""
    user = user or current_user
    role, anchor = help_target(request.endpoint, user)
    return url_for("guide.role", role=role, _anchor=anchor)

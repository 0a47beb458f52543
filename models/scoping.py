"""The one place that decides which rows a user may see (DESIGN §2).

Every query that lists customers or their data goes through scope_clause()/scoped(), and every
route that loads a row by id goes through get_scoped_or_404(): a row out of scope is a 404, never a
403 that confirms it exists. A user with several roles sees the union of what each role sees.

| role        | rows                                                             |
|-------------|------------------------------------------------------------------|
| admin       | all                                                              |
| manager     | all                                                              |
| dept_head   | rows of their department and its sub-departments                 |
| marketer    | rows they own (+ the public pool where the area has one)         |
| finance     | all (names and amounts; phones masked)                           |
| warehouse   | all (names, as documents need; phones masked)                    |
| event_staff | their events (staffed_event_ids) and those events' guests        |

A model opts in by naming its columns: ``__scope__ = {"owner": "owner_id", "department":
"department_id", "pool": <a clause, optional>}``.
"""
from flask_babel import gettext as _
from sqlalchemy import Column, ForeignKey, Table, false, or_, select, true

from extensions import db
from models.accounts import Department, User
from models.base import NotFound

#: Roles that see every row.
ALL_ROWS_ROLES = ("admin", "manager")
#: Roles that see every row, but with phone numbers masked.
ALL_ROWS_MASKED_ROLES = ("finance", "warehouse")

#: Who staffs which event: an event_staff user's scope. The table is declared here, beside the
#: one rule that reads it (staffed_event_ids), so that scoping needs nothing from the areas
#: above it; events, check-in and custody all ask the rule.
event_staff = Table(
    "event_staff", db.metadata,
    Column("event_id", ForeignKey("events.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True),
)


def department_subtree(department_id):
    """A select of the ids of a department and every department below it (recursive CTE)."""
    tree = (select(Department.id).where(Department.id == department_id)
            .cte(recursive=True))  # anonymous: two trees may meet in one query
    tree = tree.union_all(select(Department.id).where(Department.parent_id == tree.c.id))
    return select(tree.c.id)


def department_subtree_ids(department_id):
    """The ids of a department and every department below it."""
    if department_id is None:
        return []
    return list(db.session.scalars(department_subtree(department_id)))


def scope_clause(user, *, owner, department, pool=None, masked_roles_see_all=True):
    """A WHERE clause limiting rows (with `owner`/`department` columns) to what `user` may see."""
    if user is None or not getattr(user, "is_authenticated", False):
        return false()
    if user.has_role(*ALL_ROWS_ROLES):
        return true()
    if masked_roles_see_all and user.has_role(*ALL_ROWS_MASKED_ROLES):
        return true()
    clauses = []
    if user.has_role("dept_head") and user.department_id is not None:
        clauses.append(department.in_(department_subtree(user.department_id)))
    if user.has_role("marketer"):
        clauses.append(owner == user.id)
        if pool is not None:
            clauses.append(pool)
    return or_(*clauses) if clauses else false()


def _scope_of(model, user, **kwargs):
    spec = model.__scope__
    pool = spec.get("pool")
    return scope_clause(user, owner=getattr(model, spec["owner"]),
                        department=getattr(model, spec["department"]),
                        pool=pool() if callable(pool) else pool, **kwargs)


def scoped(query, user, model, **kwargs):
    """`query` limited to the rows of `model` that `user` may see."""
    return query.where(_scope_of(model, user, **kwargs))


def get_scoped_or_404(model, row_id, user, **kwargs):
    """The row of `model` with `row_id` if `user` may see it; else NotFound (a 404)."""
    row = None
    if isinstance(row_id, int) or (isinstance(row_id, str) and row_id.isdigit()):
        row = db.session.scalar(select(model).where(model.id == int(row_id),
                                                    _scope_of(model, user, **kwargs)))
    if row is None:
        raise NotFound(_("Not found, or not yours to see."))
    return row


def can_see_full_phone(user, *, owner_id, department_id):
    """Full phone numbers show only to the owner, their department head, managers and admins."""
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    if user.has_role(*ALL_ROWS_ROLES):
        return True
    if owner_id is not None and owner_id == user.id:
        return True
    if user.has_role("dept_head") and department_id is not None and user.department_id:
        return department_id in department_subtree_ids(user.department_id)
    return False


def staffed_event_ids(user_id):
    """A select of the ids of the events a user staffs (`user_id`: an id, or a bound
    parameter): all an event_staff user sees of events (DESIGN §2)."""
    return select(event_staff.c.event_id).where(event_staff.c.user_id == user_id)


def staffs_event(user, event_id):
    """Whether `user` is on the staff of the event."""
    return db.session.scalar(staffed_event_ids(user.id)
                             .where(event_staff.c.event_id == event_id)) is not None


def visible_departments(user, *, masked_roles_see_all=True):
    """A select of the departments whose rows `user` may see, by name: all for the roles that
    see every row, a department head's own tree, else none."""
    query = select(Department).order_by(Department.name)
    if user.has_role(*ALL_ROWS_ROLES) or (masked_roles_see_all and
                                          user.has_role(*ALL_ROWS_MASKED_ROLES)):
        return query
    if user.has_role("dept_head") and user.department_id is not None:
        return query.where(Department.id.in_(department_subtree(user.department_id)))
    return query.where(false())


def visible_users(user):
    """A select of the users `user` may list: all for admins and managers, the department's
    people for a department head, else only themself."""
    query = select(User)
    if user.has_role(*ALL_ROWS_ROLES):
        return query
    if user.has_role("dept_head") and user.department_id is not None:
        return query.where(or_(User.department_id.in_(department_subtree(user.department_id)),
                               User.id == user.id))
    return query.where(User.id == user.id)

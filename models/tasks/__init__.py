"""Tasks and worklists (回访、关怀、催款): every follow-up a marketer owes a customer, written by
the nightly jobs, done from the "Today" list with a contact log.

A package (STYLE: an area past ~600 lines): tables (the task and job-run tables, and how tasks
are written), worklist (the "Today" list and what is done from it), settings. Everything is
re-exported here, so callers write `from models import tasks as t`.
"""
from models.tasks.tables import (  # noqa: F401
    CHUNK, KINDS, MAX_OVERDUE_SHOWN, OUTCOMES, QUICK_NOTES, STATUSES, JobRun, Task,
    close_open_tasks, follow_owner, owned_customers, task_row, write_tasks)
from models.tasks.worklist import (  # noqa: F401
    SECTIONS, Worklist, complete_task, department_head, get_task_or_404, may_work_on,
    reassign_tasks, skip_task, team_figures, today_list, visible_tasks)
from models.tasks import settings as _settings  # noqa: F401

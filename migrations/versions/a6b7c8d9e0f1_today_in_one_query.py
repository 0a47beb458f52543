"""a marketer's Today in one query (#29 §2: "Today" ≤ 150 ms): the tasks' assignee index holds
the task's id as well

worklist.today_list ranks and counts a marketer's open tasks of the coming week within their
section and kind (window functions) and reads the first of each group by id: with the id in
ix_tasks_assignee_status_due_kind (INCLUDE, on PostgreSQL) that ranking reads no table row — the
6,439 open tasks of the busiest marketer were 6,000 table pages. SQLite's indexes hold the row
id already: nothing changes there.

Revision ID: a6b7c8d9e0f1
Revises: f4a5b6c7d8e9
Create Date: 2026-12-07 11:45:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = 'a6b7c8d9e0f1'
down_revision = 'f4a5b6c7d8e9'
branch_labels = None
depends_on = None

COLUMNS = ['assignee_id', 'status', 'due_date', 'kind']


def upgrade():
    if op.get_context().dialect.name != 'postgresql':
        return
    op.drop_index('ix_tasks_assignee_status_due_kind', table_name='tasks')
    op.create_index('ix_tasks_assignee_status_due_kind', 'tasks', COLUMNS, unique=False,
                    postgresql_include=['id'])


def downgrade():
    if op.get_context().dialect.name != 'postgresql':
        return
    op.drop_index('ix_tasks_assignee_status_due_kind', table_name='tasks')
    op.create_index('ix_tasks_assignee_status_due_kind', 'tasks', COLUMNS, unique=False)

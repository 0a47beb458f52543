"""a marketer's Today from the index alone (#29 §3): the tasks' assignee index holds the kind

"Today" counts a marketer's open tasks of the coming week by section and kind; with the kind
in the index (ix_tasks_assignee_status_due_kind replaces ix_tasks_assignee_status_due) the count
of 3,000 open tasks reads no table row.

Revision ID: d2e3f4a5b6c7
Revises: c1d2e3f4a5b6
Create Date: 2026-12-06 20:15:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = 'd2e3f4a5b6c7'
down_revision = 'c1d2e3f4a5b6'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.create_index('ix_tasks_assignee_status_due_kind',
                              ['assignee_id', 'status', 'due_date', 'kind'], unique=False)
        batch_op.drop_index('ix_tasks_assignee_status_due')


def downgrade():
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.create_index('ix_tasks_assignee_status_due',
                              ['assignee_id', 'status', 'due_date'], unique=False)
        batch_op.drop_index('ix_tasks_assignee_status_due_kind')

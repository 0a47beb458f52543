"""the performance figures of a whole company from indexes (#29 §2: the company summary's
gather for a month ≤ 5 s at two million customers)

- ix_tasks_due_assignee_outcome: the callbacks on time / overdue per marketer of a period;
- ix_orders_event_customer_status (replaces ix_orders_event_id, its prefix): "buyers", the
  check-ins of a period that have an open order at the same event;
- ix_orders_id_marketer: the marketer of the orders a period's payments are summed for.

Revision ID: f4a5b6c7d8e9
Revises: e3f4a5b6c7d8
Create Date: 2026-12-06 23:10:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = 'f4a5b6c7d8e9'
down_revision = 'e3f4a5b6c7d8'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.create_index('ix_tasks_due_assignee_outcome',
                              ['due_date', 'assignee_id', 'status', 'done_on', 'outcome'],
                              unique=False)
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.create_index('ix_orders_event_customer_status',
                              ['event_id', 'customer_id', 'status'], unique=False)
        batch_op.create_index('ix_orders_id_marketer', ['id', 'marketer_id'], unique=False)
        batch_op.drop_index('ix_orders_event_id')


def downgrade():
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.create_index('ix_orders_event_id', ['event_id'], unique=False)
        batch_op.drop_index('ix_orders_id_marketer')
        batch_op.drop_index('ix_orders_event_customer_status')
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.drop_index('ix_tasks_due_assignee_outcome')

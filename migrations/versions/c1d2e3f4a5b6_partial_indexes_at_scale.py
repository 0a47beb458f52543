"""indexes for two million customers (#29 §3): the orders still owed on, the open tasks, the
customer list by grade

- ix_orders_owing_due: a partial index of the orders still owed on (status open or opening,
  balance due), by due date, holding what the arrears list, its ageing totals and the home
  pages' arrears read; it replaces ix_orders_balance_status_due, which PostgreSQL passed over
  for a scan of every order once a tenth of them owed.
- ix_tasks_open_due_assignee: the open tasks by due date and assignee, the overdue count per
  marketer on the manager's home (was a scan of every task ever written: 632 ms at 5,000,000).
- ix_customers_grade_created: the customer list of one grade, newest first (page 500 of grade
  A walked 90,000 customers of every grade: 611 ms).

Revision ID: c1d2e3f4a5b6
Revises: f5b0579c343a
Create Date: 2026-12-06 20:05:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c1d2e3f4a5b6'
down_revision = 'f5b0579c343a'
branch_labels = None
depends_on = None

OWING = sa.text("status IN ('open', 'opening') AND balance_due > 0")
OPEN = sa.text("status = 'open'")


def upgrade():
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_index('ix_orders_balance_status_due')
        batch_op.create_index('ix_orders_owing_due', ['due_date', 'id', 'balance_due',
                                                      'marketer_id', 'department_id'],
                              unique=False, sqlite_where=OWING, postgresql_where=OWING)
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.create_index('ix_tasks_open_due_assignee', ['due_date', 'assignee_id'],
                              unique=False, sqlite_where=OPEN, postgresql_where=OPEN)
    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.create_index('ix_customers_grade_created', ['grade', 'created_at', 'id'],
                              unique=False)


def downgrade():
    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.drop_index('ix_customers_grade_created')
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.drop_index('ix_tasks_open_due_assignee')
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_index('ix_orders_owing_due')
        batch_op.create_index('ix_orders_balance_status_due', ['balance_due', 'status',
                                                               'due_date'], unique=False)

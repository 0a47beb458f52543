"""home page figures by date: check-ins (ix_check_ins_at) and goods returned
(ix_order_returns_at_value) by date, and the orders of a period with their total
(ix_orders_created_status_keys gains `total` at its end: the profit report's prefix is kept)

The home page sums arrivals, sales and collections for today, the month and each of the last
12 weeks: each a range of an index by date, not a walk over the whole table.

Revision ID: 3f9a1c7e5b20
Revises: a3f9c2d7e5b1
Create Date: 2026-12-06 14:05:00.000000

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '3f9a1c7e5b20'
down_revision = 'a3f9c2d7e5b1'
branch_labels = None
depends_on = None


KEYS = ['created_at', 'status', 'confirmation', 'marketer_id', 'department_id', 'event_id']


def upgrade():
    with op.batch_alter_table('check_ins', schema=None) as batch_op:
        batch_op.create_index('ix_check_ins_at', ['at'], unique=False)
    with op.batch_alter_table('order_returns', schema=None) as batch_op:
        batch_op.create_index('ix_order_returns_at_value', ['at', 'value'], unique=False)
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_index('ix_orders_created_status_keys')
        batch_op.create_index('ix_orders_created_status_keys', KEYS + ['total'], unique=False)


def downgrade():
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_index('ix_orders_created_status_keys')
        batch_op.create_index('ix_orders_created_status_keys', KEYS, unique=False)
    with op.batch_alter_table('order_returns', schema=None) as batch_op:
        batch_op.drop_index('ix_order_returns_at_value')
    with op.batch_alter_table('check_ins', schema=None) as batch_op:
        batch_op.drop_index('ix_check_ins_at')

"""Orders: status "opening" (期初欠款, a debt brought from the old system: no lines, never
sales) and no warehouse for such an order

Revision ID: b1c2d3e4f5a6
Revises: a9b8c7d6e5f4
Create Date: 2026-12-06 10:50:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'b1c2d3e4f5a6'
down_revision = 'a9b8c7d6e5f4'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_orders_known_status'), type_='check')
        batch_op.create_check_constraint(batch_op.f('ck_orders_known_status'),
                                         "status IN ('open', 'cancelled', 'opening')")
        batch_op.alter_column('warehouse_id', existing_type=sa.Integer(), nullable=True)


def downgrade():
    op.execute("UPDATE orders SET status = 'cancelled', balance_due = 0 "
               "WHERE status = 'opening'")
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_orders_known_status'), type_='check')
        batch_op.create_check_constraint(batch_op.f('ck_orders_known_status'),
                                         "status IN ('open', 'cancelled')")

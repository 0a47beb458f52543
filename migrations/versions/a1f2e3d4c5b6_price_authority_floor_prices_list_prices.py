"""Price authority: products.floor_price; order_lines.list_price; orders.list_total,
below_floor, price_reason, discount_needed

Revision ID: a1f2e3d4c5b6
Revises: c7909032f7b8
Create Date: 2026-12-06 09:50:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'a1f2e3d4c5b6'
down_revision = 'c7909032f7b8'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('products', schema=None) as batch_op:
        batch_op.add_column(sa.Column('floor_price', sa.Integer(), nullable=True))
        batch_op.create_check_constraint(batch_op.f('ck_products_floor_not_negative'),
                                         'floor_price IS NULL OR floor_price >= 0')
    with op.batch_alter_table('order_lines', schema=None) as batch_op:
        batch_op.add_column(sa.Column('list_price', sa.Integer(), nullable=False,
                                      server_default='0'))
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.add_column(sa.Column('list_total', sa.Integer(), nullable=False,
                                      server_default='0'))
        batch_op.add_column(sa.Column('below_floor', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
        batch_op.add_column(sa.Column('price_reason', sa.String(length=300), nullable=False,
                                      server_default=''))
        batch_op.add_column(sa.Column('discount_needed', sa.Integer(), nullable=False,
                                      server_default='0'))
    # Orders taken before: the list price is not known, so the price sold at stands for it
    # (their discount is the line discounts typed in).
    op.execute("UPDATE order_lines SET list_price = unit_price")
    op.execute("UPDATE orders SET list_total = COALESCE((SELECT SUM(quantity * unit_price) "
               "FROM order_lines WHERE order_lines.order_id = orders.id), total)")
    with op.batch_alter_table('order_lines', schema=None) as batch_op:
        batch_op.alter_column('list_price', server_default=None)
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.alter_column('list_total', server_default=None)
        batch_op.alter_column('below_floor', server_default=None)
        batch_op.alter_column('price_reason', server_default=None)
        batch_op.alter_column('discount_needed', server_default=None)


def downgrade():
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_column('discount_needed')
        batch_op.drop_column('price_reason')
        batch_op.drop_column('below_floor')
        batch_op.drop_column('list_total')
    with op.batch_alter_table('order_lines', schema=None) as batch_op:
        batch_op.drop_column('list_price')
    with op.batch_alter_table('products', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_products_floor_not_negative'), type_='check')
        batch_op.drop_column('floor_price')

"""cost of goods sold of pooled custody: order_lines.held_unit_cost

Goods left in a pooled warehouse's custody move nothing when they are sold: the line keeps what
they count at in the cost of goods sold (models.orders.cogs), the product's standard cost when
the order was handed over; a partial index holds those lines (none without a pooled warehouse),
covering what the cost of goods sold reads of them. Lines already promised in a pooled warehouse (a deposit without a
batch) take their product's standard cost now, the nearest known.

Revision ID: 7d3e5f1a9c2b
Revises: c2d3e4f5a6b7
Create Date: 2026-12-08 10:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '7d3e5f1a9c2b'
down_revision = 'c2d3e4f5a6b7'
branch_labels = None
depends_on = None


def upgrade():
    if op.get_bind().dialect.name == "sqlite":
        # SQLite adds a column with its check in place: a batch would copy the table, and
        # order_lines is referenced by rows (returns, custody entries) that a copy's DROP TABLE
        # refuses.
        op.execute("ALTER TABLE order_lines ADD COLUMN held_unit_cost INTEGER "
                   "CONSTRAINT ck_order_lines_held_cost_not_negative "
                   "CHECK (held_unit_cost >= 0)")
    else:
        with op.batch_alter_table('order_lines', schema=None) as batch_op:
            batch_op.add_column(sa.Column('held_unit_cost', sa.Integer(), nullable=True))
            batch_op.create_check_constraint('held_cost_not_negative', 'held_unit_cost >= 0')
    with op.batch_alter_table('order_lines', schema=None) as batch_op:
        batch_op.create_index('ix_order_lines_promised',
                              ['order_id', 'product_id', 'held', 'held_unit_cost'], unique=False,
                              sqlite_where=sa.text('held_unit_cost IS NOT NULL'),
                              postgresql_where=sa.text('held_unit_cost IS NOT NULL'))
    op.execute(
        "UPDATE order_lines SET held_unit_cost = (SELECT products.standard_cost FROM products "
        "WHERE products.id = order_lines.product_id) "
        "WHERE order_lines.id IN (SELECT custody_entries.order_line_id FROM custody_entries "
        "WHERE custody_entries.kind = 'deposit' AND custody_entries.batch_id IS NULL "
        "AND custody_entries.order_line_id IS NOT NULL)")


def downgrade():
    with op.batch_alter_table('order_lines', schema=None) as batch_op:
        batch_op.drop_index('ix_order_lines_promised')
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE order_lines DROP COLUMN held_unit_cost")
    else:
        with op.batch_alter_table('order_lines', schema=None) as batch_op:
            batch_op.drop_constraint('held_cost_not_negative', type_='check')
            batch_op.drop_column('held_unit_cost')

"""profit report and event ROI: covering indexes for the cost of goods sold and the sales of a period; an event's arrivals by customer

The stock moves of a document carry what the cost of goods sold reads (reason, reversal, where
the goods went, product, quantity, unit cost), and the moves of a reason are found by date (the
goods brought back in a period); a period's orders carry what the profit report groups them by,
and an order's lines what it sums; an event's check-ins are found by customer (whether the
customer of an order came: an event's deals). Each wider index replaces the narrower one it
begins with.

Revision ID: e4b1c9d2a7f3
Revises: 2c2e4d20f8cb
Create Date: 2026-12-06 10:00:00.000000

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = 'e4b1c9d2a7f3'
down_revision = '2c2e4d20f8cb'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('check_ins', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_check_ins_event_id'))
        batch_op.create_index('ix_check_ins_event_customer', ['event_id', 'customer_id'],
                              unique=False)

    with op.batch_alter_table('stock_moves', schema=None) as batch_op:
        batch_op.drop_index('ix_stock_moves_document')
        batch_op.create_index('ix_stock_moves_document_cost',
                              ['document_type', 'document_id', 'reason', 'reverses_id',
                               'to_location_id', 'product_id', 'quantity', 'unit_cost'],
                              unique=False)
        batch_op.create_index('ix_stock_moves_reason_at', ['reason', 'at'], unique=False)

    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_orders_created_at'))
        batch_op.create_index('ix_orders_created_status_keys',
                              ['created_at', 'status', 'confirmation', 'marketer_id',
                               'department_id', 'event_id'], unique=False)

    with op.batch_alter_table('order_lines', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_order_lines_order_id'))
        batch_op.create_index('ix_order_lines_order_product_amounts',
                              ['order_id', 'product_id', 'quantity', 'unit_price', 'discount'],
                              unique=False)


def downgrade():
    with op.batch_alter_table('order_lines', schema=None) as batch_op:
        batch_op.drop_index('ix_order_lines_order_product_amounts')
        batch_op.create_index(batch_op.f('ix_order_lines_order_id'), ['order_id'], unique=False)

    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_index('ix_orders_created_status_keys')
        batch_op.create_index(batch_op.f('ix_orders_created_at'), ['created_at'], unique=False)

    with op.batch_alter_table('stock_moves', schema=None) as batch_op:
        batch_op.drop_index('ix_stock_moves_reason_at')
        batch_op.drop_index('ix_stock_moves_document_cost')
        batch_op.create_index('ix_stock_moves_document', ['document_type', 'document_id'],
                              unique=False)

    with op.batch_alter_table('check_ins', schema=None) as batch_op:
        batch_op.drop_index('ix_check_ins_event_customer')
        batch_op.create_index(batch_op.f('ix_check_ins_event_id'), ['event_id'], unique=False)

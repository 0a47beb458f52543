"""past_purchases: purchases the old system knew (历史购买), imported as opening balances

Revision ID: c2d3e4f5a6b7
Revises: b7e2c4f1a9d3
Create Date: 2026-12-06 11:05:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c2d3e4f5a6b7'
down_revision = 'b7e2c4f1a9d3'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'past_purchases',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('batch_id', sa.Integer(), nullable=False),
        sa.Column('customer_id', sa.Integer(), nullable=False),
        sa.Column('bought_on', sa.Date(), nullable=False),
        sa.Column('product_id', sa.Integer(), nullable=True),
        sa.Column('product_name', sa.String(length=80), nullable=False),
        sa.Column('quantity', sa.Integer(), nullable=False),
        sa.Column('amount', sa.Integer(), nullable=False),
        sa.Column('marketer_id', sa.Integer(), nullable=True),
        sa.Column('rolled_back_at', sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(['batch_id'], ['opening_batches.id'],
                                name=op.f('fk_past_purchases_batch_id_opening_batches')),
        sa.ForeignKeyConstraint(['customer_id'], ['customers.id'],
                                name=op.f('fk_past_purchases_customer_id_customers')),
        sa.ForeignKeyConstraint(['product_id'], ['products.id'],
                                name=op.f('fk_past_purchases_product_id_products')),
        sa.ForeignKeyConstraint(['marketer_id'], ['users.id'],
                                name=op.f('fk_past_purchases_marketer_id_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_past_purchases')),
    )
    with op.batch_alter_table('past_purchases', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_past_purchases_batch_id'), ['batch_id'],
                              unique=False)
        batch_op.create_index('ix_past_purchases_customer_bought', ['customer_id', 'bought_on'],
                              unique=False)


def downgrade():
    with op.batch_alter_table('past_purchases', schema=None) as batch_op:
        batch_op.drop_index('ix_past_purchases_customer_bought')
        batch_op.drop_index(batch_op.f('ix_past_purchases_batch_id'))
    op.drop_table('past_purchases')

"""custody held since before the move-in (期初寄存): custody_opening_holdings, and the custody
entries that name one (custody_entries.opening_holding_id)

A holding brought from the old system (customer, product, warehouse, quantity, whether paid,
held since) is the third thing custody groups goods under, beside an order line and a
redemption. Nothing existing changes: the new column is NULL on every entry.

Revision ID: cc88cba869b3
Revises: c3d8a6e1f2b4
Create Date: 2026-12-08 10:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'cc88cba869b3'
down_revision = 'c3d8a6e1f2b4'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'custody_opening_holdings',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('customer_id', sa.Integer(), nullable=False),
        sa.Column('product_id', sa.Integer(), nullable=False),
        sa.Column('warehouse_id', sa.Integer(), nullable=False),
        sa.Column('quantity', sa.Integer(), nullable=False),
        sa.Column('is_paid', sa.Boolean(), nullable=False),
        sa.Column('held_since', sa.Date(), nullable=True),
        sa.Column('note', sa.String(length=200), nullable=False),
        sa.Column('created_by_id', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.CheckConstraint('quantity > 0',
                           name=op.f('ck_custody_opening_holdings_quantity_above_zero')),
        sa.ForeignKeyConstraint(['created_by_id'], ['users.id'],
                                name=op.f('fk_custody_opening_holdings_created_by_id_users')),
        sa.ForeignKeyConstraint(['customer_id'], ['customers.id'],
                                name=op.f('fk_custody_opening_holdings_customer_id_customers')),
        sa.ForeignKeyConstraint(['product_id'], ['products.id'],
                                name=op.f('fk_custody_opening_holdings_product_id_products')),
        sa.ForeignKeyConstraint(['warehouse_id'], ['warehouses.id'],
                                name=op.f('fk_custody_opening_holdings_warehouse_id_warehouses')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_custody_opening_holdings')),
    )
    with op.batch_alter_table('custody_opening_holdings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_custody_opening_holdings_customer_id'),
                              ['customer_id'], unique=False)

    with op.batch_alter_table('custody_entries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('opening_holding_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_custody_entries_opening_holding_id'),
                              ['opening_holding_id'], unique=False)
        batch_op.create_foreign_key(
            batch_op.f('fk_custody_entries_opening_holding_id_custody_opening_holdings'),
            'custody_opening_holdings', ['opening_holding_id'], ['id'])


def downgrade():
    # The entries of holdings cannot lose what they are held under: refuse rather than leave
    # balances no pickup screen can reach.
    bind = op.get_bind()
    if bind.execute(sa.text("SELECT COUNT(*) FROM custody_entries "
                            "WHERE opening_holding_id IS NOT NULL")).scalar():
        raise RuntimeError("custody entries of opening holdings exist: cannot downgrade")
    with op.batch_alter_table('custody_entries', schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f('fk_custody_entries_opening_holding_id_custody_opening_holdings'),
            type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_custody_entries_opening_holding_id'))
        batch_op.drop_column('opening_holding_id')

    with op.batch_alter_table('custody_opening_holdings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_custody_opening_holdings_customer_id'))
    op.drop_table('custody_opening_holdings')

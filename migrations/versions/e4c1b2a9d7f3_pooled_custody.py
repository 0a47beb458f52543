"""pooled custody: a custody mode per warehouse, promises without a batch, the nightly shortfalls

warehouses.custody_mode: "reserved" (held goods on the custody shelf, as before — every existing
warehouse) or "pooled" (a held quantity is a promise on the custody ledger, the goods stay in
ordinary stock). custody_entries.batch_id may be NULL (a pooled promise sets no batch aside);
custody_entries.stock_move_id links a pooled pickup to the stock move that handed the goods over.
stock_shortfalls: the nightly list of products whose free stock (on hand − promised) is below
zero.

Revision ID: e4c1b2a9d7f3
Revises: a1f2e3d4c5b6
Create Date: 2026-12-06 12:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'e4c1b2a9d7f3'
down_revision = 'a1f2e3d4c5b6'
branch_labels = None
depends_on = None


def upgrade():
    if op.get_bind().dialect.name == "sqlite":
        # SQLite adds a column with its check in place: a batch would copy the table, and
        # warehouses is referenced by rows (its locations) that a copy's DROP TABLE refuses.
        op.execute("ALTER TABLE warehouses ADD COLUMN custody_mode VARCHAR(10) "
                   "DEFAULT 'reserved' NOT NULL CONSTRAINT ck_warehouses_known_custody_mode "
                   "CHECK (custody_mode IN ('reserved', 'pooled'))")
    else:
        with op.batch_alter_table('warehouses', schema=None) as batch_op:
            batch_op.add_column(sa.Column('custody_mode', sa.String(length=10),
                                          server_default='reserved', nullable=False))
            batch_op.create_check_constraint('known_custody_mode',
                                             "custody_mode IN ('reserved', 'pooled')")

    with op.batch_alter_table('custody_entries', schema=None) as batch_op:
        batch_op.alter_column('batch_id', existing_type=sa.Integer(), nullable=True)
        batch_op.add_column(sa.Column('stock_move_id', sa.Integer(), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_custody_entries_stock_move_id'),
                                          ['stock_move_id'])
        batch_op.create_foreign_key(batch_op.f('fk_custody_entries_stock_move_id_stock_moves'),
                                    'stock_moves', ['stock_move_id'], ['id'])

    op.create_table('stock_shortfalls',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('run_date', sa.Date(), nullable=False),
    sa.Column('warehouse_id', sa.Integer(), nullable=False),
    sa.Column('product_id', sa.Integer(), nullable=False),
    sa.Column('on_hand', sa.Integer(), nullable=False),
    sa.Column('promised', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['product_id'], ['products.id'], name=op.f('fk_stock_shortfalls_product_id_products')),
    sa.ForeignKeyConstraint(['warehouse_id'], ['warehouses.id'], name=op.f('fk_stock_shortfalls_warehouse_id_warehouses')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stock_shortfalls')),
    sa.UniqueConstraint('run_date', 'warehouse_id', 'product_id', name=op.f('uq_stock_shortfalls_run_date_warehouse_id_product_id'))
    )
    with op.batch_alter_table('stock_shortfalls', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_stock_shortfalls_run_date'), ['run_date'], unique=False)


def downgrade():
    with op.batch_alter_table('stock_shortfalls', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_stock_shortfalls_run_date'))
    op.drop_table('stock_shortfalls')

    # Promises without a batch cannot go back to a NOT NULL batch column: refuse rather than
    # lose them (switch the warehouses back to reserved first, which needs nothing held).
    bind = op.get_bind()
    if bind.execute(sa.text("SELECT COUNT(*) FROM custody_entries WHERE batch_id IS NULL")
                    ).scalar():
        raise RuntimeError("custody entries without a batch (pooled custody) exist: "
                           "cannot downgrade")
    with op.batch_alter_table('custody_entries', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_custody_entries_stock_move_id_stock_moves'),
                                 type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('uq_custody_entries_stock_move_id'), type_='unique')
        batch_op.drop_column('stock_move_id')
        batch_op.alter_column('batch_id', existing_type=sa.Integer(), nullable=False)

    if bind.dialect.name == "sqlite":
        op.execute("ALTER TABLE warehouses DROP COLUMN custody_mode")
    else:
        with op.batch_alter_table('warehouses', schema=None) as batch_op:
            batch_op.drop_constraint('known_custody_mode', type_='check')
            batch_op.drop_column('custody_mode')

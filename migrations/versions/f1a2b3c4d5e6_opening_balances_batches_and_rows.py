"""Opening balances (期初): opening_batches (an uploaded file of one kind and what became of it)
and opening_rows (each row imported, under a key per kind)

Revision ID: f1a2b3c4d5e6
Revises: e4b1c9d2a7f3
Create Date: 2026-12-06 10:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'f1a2b3c4d5e6'
down_revision = 'e4b1c9d2a7f3'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'opening_batches',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('token', sa.String(length=36), nullable=False),
        sa.Column('kind', sa.String(length=20), nullable=False),
        sa.Column('filename', sa.String(length=200), nullable=False),
        sa.Column('content', sa.LargeBinary(), nullable=False),
        sa.Column('headers', sa.JSON(), nullable=False),
        sa.Column('row_count', sa.Integer(), nullable=False),
        sa.Column('mapping', sa.JSON(), nullable=True),
        sa.Column('status', sa.String(length=12), nullable=False),
        sa.Column('mode', sa.String(length=6), nullable=False),
        sa.Column('result', sa.JSON(), nullable=True),
        sa.Column('created_by_id', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('confirmed_at', sa.DateTime(), nullable=True),
        sa.Column('rolled_back_at', sa.DateTime(), nullable=True),
        sa.Column('rolled_back_by_id', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['created_by_id'], ['users.id'],
                                name=op.f('fk_opening_batches_created_by_id_users')),
        sa.ForeignKeyConstraint(['rolled_back_by_id'], ['users.id'],
                                name=op.f('fk_opening_batches_rolled_back_by_id_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_opening_batches')),
        sa.UniqueConstraint('token', name=op.f('uq_opening_batches_token')),
    )
    with op.batch_alter_table('opening_batches', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_opening_batches_kind'), ['kind'], unique=False)
        batch_op.create_index(batch_op.f('ix_opening_batches_created_by_id'), ['created_by_id'],
                              unique=False)
    op.create_table(
        'opening_rows',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('batch_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=20), nullable=False),
        sa.Column('row_key', sa.String(length=200), nullable=False),
        sa.Column('number', sa.Integer(), nullable=False),
        sa.Column('customer_id', sa.Integer(), nullable=True),
        sa.Column('target_type', sa.String(length=30), nullable=False),
        sa.Column('target_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['batch_id'], ['opening_batches.id'],
                                name=op.f('fk_opening_rows_batch_id_opening_batches')),
        sa.ForeignKeyConstraint(['customer_id'], ['customers.id'],
                                name=op.f('fk_opening_rows_customer_id_customers')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_opening_rows')),
        sa.UniqueConstraint('kind', 'row_key', name=op.f('uq_opening_rows_kind_row_key')),
    )
    with op.batch_alter_table('opening_rows', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_opening_rows_batch_id'), ['batch_id'], unique=False)


def downgrade():
    with op.batch_alter_table('opening_rows', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_opening_rows_batch_id'))
    op.drop_table('opening_rows')
    with op.batch_alter_table('opening_batches', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_opening_batches_created_by_id'))
        batch_op.drop_index(batch_op.f('ix_opening_batches_kind'))
    op.drop_table('opening_batches')

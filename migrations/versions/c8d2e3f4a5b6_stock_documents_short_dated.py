"""Stock documents: short_dated (a receipt of an expired or nearly expired batch, received on a
second confirmation)

Revision ID: c8d2e3f4a5b6
Revises: b7c1d2e3f4a5
Create Date: 2026-12-06 07:55:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c8d2e3f4a5b6'
down_revision = 'b7c1d2e3f4a5'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('stock_documents', schema=None) as batch_op:
        # Nothing was confirmed as short-dated before the confirmation existed.
        batch_op.add_column(sa.Column('short_dated', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
    with op.batch_alter_table('stock_documents', schema=None) as batch_op:
        batch_op.alter_column('short_dated', server_default=None)


def downgrade():
    with op.batch_alter_table('stock_documents', schema=None) as batch_op:
        batch_op.drop_column('short_dated')

"""Seating: invitations.is_seated_by_hand (a guest moved to a table by hand stays there when
the seats are planned again)

Revision ID: 96441ff6c356
Revises: 4eebb0a34490
Create Date: 2026-12-06 07:04:18.461006

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '96441ff6c356'
down_revision = '4eebb0a34490'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('invitations', schema=None) as batch_op:
        # No guest was moved on the seating page before it existed.
        batch_op.add_column(sa.Column('is_seated_by_hand', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
    with op.batch_alter_table('invitations', schema=None) as batch_op:
        batch_op.alter_column('is_seated_by_hand', server_default=None)


def downgrade():
    with op.batch_alter_table('invitations', schema=None) as batch_op:
        batch_op.drop_column('is_seated_by_hand')

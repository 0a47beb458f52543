"""Messages sent through a provider's own template (#28 §3): the fields each message was filled
with (params, the Aliyun template's parameters) and when its delivery was last asked about.

Revision ID: f5b0579c343a
Revises: 419634d863de
Create Date: 2026-12-06 16:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'f5b0579c343a'
down_revision = '419634d863de'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('params', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('checked_at', sa.DateTime(), nullable=True))


def downgrade():
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.drop_column('checked_at')
        batch_op.drop_column('params')

"""check-ins by date: ix_check_ins_at, for the arrivals of a period (the home page's figures
of today, the month and each of the last 12 weeks read from it, not from the whole table)

Revision ID: 3f9a1c7e5b20
Revises: 6d24334006a1
Create Date: 2026-12-06 14:05:00.000000

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '3f9a1c7e5b20'
down_revision = '6d24334006a1'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('check_ins', schema=None) as batch_op:
        batch_op.create_index('ix_check_ins_at', ['at'], unique=False)


def downgrade():
    with op.batch_alter_table('check_ins', schema=None) as batch_op:
        batch_op.drop_index('ix_check_ins_at')

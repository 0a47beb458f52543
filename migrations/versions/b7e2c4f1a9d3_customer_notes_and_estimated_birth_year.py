"""customers: general notes (备注, apart from the health notes) and a year of birth estimated from an age

An old spreadsheet's 备注 column is about anything, not health: it goes to the notes. An age given
instead of a birthday (75岁) gives a year of birth counted back from the import day, flagged as
estimated (shown as 约).

Revision ID: b7e2c4f1a9d3
Revises: b1c2d3e4f5a6
Create Date: 2026-12-07 10:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'b7e2c4f1a9d3'
down_revision = 'b1c2d3e4f5a6'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('notes', sa.Text(), server_default='', nullable=False))
        batch_op.add_column(sa.Column('birth_year_estimated', sa.Boolean(),
                                      server_default=sa.false(), nullable=False))


def downgrade():
    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.drop_column('birth_year_estimated')
        batch_op.drop_column('notes')

"""Gift rules: whether "buy N" counts the product inside packages too (counts_packages), and
when a purchase gift may be handed over (waits_for: nothing / deposit / paid)

Revision ID: b7c1d2e3f4a5
Revises: 96441ff6c356
Create Date: 2026-12-06 07:45:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'b7c1d2e3f4a5'
down_revision = '96441ff6c356'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('gift_rules', schema=None) as batch_op:
        # The rules written before counted package contents toward "buy N" and gave the gift
        # at once: they keep doing so; new rules default to the safer choices (the model's).
        batch_op.add_column(sa.Column('counts_packages', sa.Boolean(), nullable=False,
                                      server_default=sa.true()))
        batch_op.add_column(sa.Column('waits_for', sa.String(length=8), nullable=False,
                                      server_default='nothing'))
    with op.batch_alter_table('gift_rules', schema=None) as batch_op:
        batch_op.alter_column('counts_packages', server_default=None)
        batch_op.alter_column('waits_for', server_default=None)


def downgrade():
    with op.batch_alter_table('gift_rules', schema=None) as batch_op:
        batch_op.drop_column('waits_for')
        batch_op.drop_column('counts_packages')

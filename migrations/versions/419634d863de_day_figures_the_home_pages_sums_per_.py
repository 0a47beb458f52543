"""day figures: the home pages' sums per closed day and marketer (#27 §3)

day_figures holds a row per company day and marketer (0: nobody; −1: the company) with the
arrivals, deals, sales and collections of that day; day_figures_days says which days are done and
counts the changes to each (models/daily.py); and an index of the orders by balance due (the
company's arrears). Empty at first: the nightly `day-figures` job fills
the closed days of the last 13 weeks; until then the home pages sum the ledgers as before.

Revision ID: 419634d863de
Revises: f8f881dea690
Create Date: 2026-12-06 16:14:35.016984

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '419634d863de'
down_revision = 'f8f881dea690'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('day_figures',
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('marketer_id', sa.Integer(), nullable=False),
    sa.Column('arrivals', sa.Integer(), nullable=False),
    sa.Column('deals', sa.Integer(), nullable=False),
    sa.Column('taken', sa.BigInteger(), nullable=False),
    sa.Column('returned', sa.BigInteger(), nullable=False),
    sa.Column('received', sa.BigInteger(), nullable=False),
    sa.Column('reversed', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('day', 'marketer_id', name=op.f('pk_day_figures'))
    )
    with op.batch_alter_table('day_figures', schema=None) as batch_op:
        batch_op.create_index('ix_day_figures_marketer_day', ['marketer_id', 'day'], unique=False)

    with op.batch_alter_table('orders', schema=None) as batch_op:
        # The company's arrears (home pages): the owing orders only, from the index alone.
        batch_op.create_index('ix_orders_balance_status_due',
                              ['balance_due', 'status', 'due_date'], unique=False)

    op.create_table('day_figures_days',
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('done', sa.Boolean(), nullable=False),
    sa.Column('computed_at', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('day', name=op.f('pk_day_figures_days'))
    )


def downgrade():
    op.drop_table('day_figures_days')
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_index('ix_orders_balance_status_due')
    with op.batch_alter_table('day_figures', schema=None) as batch_op:
        batch_op.drop_index('ix_day_figures_marketer_day')

    op.drop_table('day_figures')

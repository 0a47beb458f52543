"""commission (提成): the rates per product category and package, the monthly runs and their
lines

A run per month (a draft until finance approves it, then locked); a line per payment (and per
return, listed) and per marketer who earns on it: the seller, or the customer's developer. A
payment earns each kind of line once over the locked runs (a partial unique index).

Revision ID: a3f9c2d7e5b1
Revises: 6d24334006a1
Create Date: 2026-12-06 15:20:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'a3f9c2d7e5b1'
down_revision = '6d24334006a1'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'commission_rates',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('scope', sa.String(length=10), nullable=False),
        sa.Column('subject_id', sa.Integer(), nullable=False),
        sa.Column('rate_bp', sa.Integer(), nullable=False),
        sa.Column('set_by_id', sa.Integer(), nullable=False),
        sa.Column('set_at', sa.DateTime(), nullable=False),
        sa.CheckConstraint("scope IN ('category', 'package')",
                           name=op.f('ck_commission_rates_known_scope')),
        sa.CheckConstraint('rate_bp >= 0 AND rate_bp <= 10000',
                           name=op.f('ck_commission_rates_rate_within_100_percent')),
        sa.ForeignKeyConstraint(['set_by_id'], ['users.id'],
                                name=op.f('fk_commission_rates_set_by_id_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_commission_rates')),
        sa.UniqueConstraint('scope', 'subject_id', name='uq_commission_rates_subject'),
    )
    op.create_table(
        'commission_runs',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('month', sa.Date(), nullable=False),
        sa.Column('status', sa.String(length=10), nullable=False),
        sa.Column('computed_at', sa.DateTime(), nullable=False),
        sa.Column('computed_by_id', sa.Integer(), nullable=False),
        sa.Column('approved_at', sa.DateTime(), nullable=True),
        sa.Column('approved_by_id', sa.Integer(), nullable=True),
        sa.Column('rules', sa.JSON(), nullable=False),
        sa.Column('summary', sa.JSON(), nullable=False),
        sa.Column('total', sa.BigInteger(), nullable=False),
        sa.Column('payments', sa.Integer(), nullable=False),
        sa.Column('late_payments', sa.Integer(), nullable=False),
        sa.CheckConstraint("(status = 'approved') = (approved_at IS NOT NULL)",
                           name=op.f('ck_commission_runs_approved_has_time')),
        sa.CheckConstraint("status IN ('draft', 'approved')",
                           name=op.f('ck_commission_runs_known_status')),
        sa.ForeignKeyConstraint(['approved_by_id'], ['users.id'],
                                name=op.f('fk_commission_runs_approved_by_id_users')),
        sa.ForeignKeyConstraint(['computed_by_id'], ['users.id'],
                                name=op.f('fk_commission_runs_computed_by_id_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_commission_runs')),
        sa.UniqueConstraint('month', name=op.f('uq_commission_runs_month')),
    )
    op.create_table(
        'commission_lines',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('run_id', sa.Integer(), nullable=False),
        sa.Column('marketer_id', sa.Integer(), nullable=False),
        sa.Column('role', sa.String(length=10), nullable=False),
        sa.Column('payment_id', sa.Integer(), nullable=True),
        sa.Column('return_id', sa.Integer(), nullable=True),
        sa.Column('order_id', sa.Integer(), nullable=False),
        sa.Column('customer_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=10), nullable=False),
        sa.Column('at', sa.DateTime(), nullable=False),
        sa.Column('is_late', sa.Boolean(), nullable=False),
        sa.Column('base', sa.BigInteger(), nullable=False),
        sa.Column('rate_bp', sa.Integer(), nullable=False),
        sa.Column('multiplier', sa.Integer(), nullable=False),
        sa.Column('commission', sa.BigInteger(), nullable=False),
        sa.Column('locked', sa.Boolean(), nullable=False),
        sa.CheckConstraint("(role = 'return') = (payment_id IS NULL)",
                           name=op.f('ck_commission_lines_payment_or_return')),
        sa.CheckConstraint("role IN ('sale', 'developer', 'return')",
                           name=op.f('ck_commission_lines_known_role')),
        sa.ForeignKeyConstraint(['customer_id'], ['customers.id'],
                                name=op.f('fk_commission_lines_customer_id_customers')),
        sa.ForeignKeyConstraint(['marketer_id'], ['users.id'],
                                name=op.f('fk_commission_lines_marketer_id_users')),
        sa.ForeignKeyConstraint(['order_id'], ['orders.id'],
                                name=op.f('fk_commission_lines_order_id_orders')),
        sa.ForeignKeyConstraint(['payment_id'], ['payments.id'],
                                name=op.f('fk_commission_lines_payment_id_payments')),
        sa.ForeignKeyConstraint(['return_id'], ['order_returns.id'],
                                name=op.f('fk_commission_lines_return_id_order_returns')),
        sa.ForeignKeyConstraint(['run_id'], ['commission_runs.id'],
                                name=op.f('fk_commission_lines_run_id_commission_runs'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_commission_lines')),
        sa.UniqueConstraint('run_id', 'payment_id', 'role', name='uq_commission_lines_payment'),
    )
    with op.batch_alter_table('commission_lines', schema=None) as batch_op:
        batch_op.create_index('ix_commission_lines_locked_payment', ['payment_id', 'role'],
                              unique=True, sqlite_where=sa.text('locked = 1'),
                              postgresql_where=sa.text('locked'))
        batch_op.create_index('ix_commission_lines_run_marketer',
                              ['run_id', 'marketer_id', 'role'], unique=False)


def downgrade():
    with op.batch_alter_table('commission_lines', schema=None) as batch_op:
        batch_op.drop_index('ix_commission_lines_run_marketer')
        batch_op.drop_index('ix_commission_lines_locked_payment')
    op.drop_table('commission_lines')
    op.drop_table('commission_runs')
    op.drop_table('commission_rates')

"""targets (目标): what a marketer or a department is to reach in a month or a week

One row per subject (a marketer or a department), period and figure (contacts, invitations,
confirmed, arrivals, sales, collections, new customers); money figures in fen.

Revision ID: d4e7a2b9c1f0
Revises: cc88cba869b3
Create Date: 2026-12-06 13:40:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'd4e7a2b9c1f0'
down_revision = 'cc88cba869b3'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'targets',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('scope', sa.String(length=12), nullable=False),
        sa.Column('subject_id', sa.Integer(), nullable=False),
        sa.Column('period', sa.String(length=6), nullable=False),
        sa.Column('starts_on', sa.Date(), nullable=False),
        sa.Column('figure', sa.String(length=20), nullable=False),
        sa.Column('value', sa.BigInteger(), nullable=False),
        sa.Column('set_by_id', sa.Integer(), nullable=False),
        sa.Column('set_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['set_by_id'], ['users.id'],
                                name=op.f('fk_targets_set_by_id_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_targets')),
        sa.UniqueConstraint('scope', 'subject_id', 'period', 'starts_on', 'figure',
                            name='uq_targets_subject_period_figure'),
    )
    with op.batch_alter_table('targets', schema=None) as batch_op:
        batch_op.create_index('ix_targets_period', ['period', 'starts_on', 'scope'],
                              unique=False)


def downgrade():
    with op.batch_alter_table('targets', schema=None) as batch_op:
        batch_op.drop_index('ix_targets_period')
    op.drop_table('targets')

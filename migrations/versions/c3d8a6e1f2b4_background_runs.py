"""Background runs: large imports and exports outside the request, with their progress
(background_runs)

Revision ID: c3d8a6e1f2b4
Revises: 7d3e5f1a9c2b
Create Date: 2026-12-07 10:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c3d8a6e1f2b4'
down_revision = '7d3e5f1a9c2b'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'background_runs',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('token', sa.String(length=36), nullable=False),
        sa.Column('kind', sa.String(length=30), nullable=False),
        sa.Column('batch_id', sa.Integer(), nullable=True),
        sa.Column('params', sa.JSON(), nullable=False),
        sa.Column('state', sa.String(length=10), nullable=False),
        sa.Column('stage', sa.String(length=10), nullable=False),
        sa.Column('rows_done', sa.Integer(), nullable=False),
        sa.Column('rows_total', sa.Integer(), nullable=False),
        sa.Column('errors_so_far', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('started_at', sa.DateTime(), nullable=True),
        sa.Column('heartbeat_at', sa.DateTime(), nullable=True),
        sa.Column('finished_at', sa.DateTime(), nullable=True),
        sa.Column('error', sa.Text(), nullable=True),
        sa.Column('result', sa.JSON(), nullable=True),
        sa.Column('content', sa.LargeBinary(), nullable=True),
        sa.Column('created_by_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['created_by_id'], ['users.id'],
                                name=op.f('fk_background_runs_created_by_id_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_background_runs')),
        sa.UniqueConstraint('token', name=op.f('uq_background_runs_token')),
    )
    with op.batch_alter_table('background_runs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_background_runs_batch_id'), ['batch_id'],
                              unique=False)
        batch_op.create_index(batch_op.f('ix_background_runs_state'), ['state'], unique=False)
        batch_op.create_index(batch_op.f('ix_background_runs_created_by_id'), ['created_by_id'],
                              unique=False)


def downgrade():
    with op.batch_alter_table('background_runs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_background_runs_created_by_id'))
        batch_op.drop_index(batch_op.f('ix_background_runs_state'))
        batch_op.drop_index(batch_op.f('ix_background_runs_batch_id'))
    op.drop_table('background_runs')

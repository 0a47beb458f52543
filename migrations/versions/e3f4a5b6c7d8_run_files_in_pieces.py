"""a run's file in pieces (#29 §2): an export's workbook is kept as rows of a mebibyte in
background_run_parts instead of one value in background_runs.content, so the worker that
writes it and the page that sends it hold one piece at a time (the export of two million
customers, a 140 MB workbook, with the worker's peak ≤ 300 MB). A file kept before moves
over as one piece; content_size says each file's length (the download's Content-Length).

Revision ID: e3f4a5b6c7d8
Revises: d2e3f4a5b6c7
Create Date: 2026-12-06 22:40:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'e3f4a5b6c7d8'
down_revision = 'd2e3f4a5b6c7'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'background_run_parts',
        sa.Column('run_id', sa.Integer(), nullable=False),
        sa.Column('seq', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('data', sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(['run_id'], ['background_runs.id'],
                                name=op.f('fk_background_run_parts_run_id_background_runs')),
        sa.PrimaryKeyConstraint('run_id', 'seq', name=op.f('pk_background_run_parts')),
    )
    with op.batch_alter_table('background_runs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('content_size', sa.Integer(), nullable=True))
    op.execute("INSERT INTO background_run_parts (run_id, seq, data) "
               "SELECT id, 0, content FROM background_runs WHERE content IS NOT NULL")
    op.execute("UPDATE background_runs SET content_size = length(content) "
               "WHERE content IS NOT NULL")
    with op.batch_alter_table('background_runs', schema=None) as batch_op:
        batch_op.drop_column('content')


def downgrade():
    # A file of one piece goes back whole; a longer one cannot be joined portably and is
    # dropped (its run stays done, with nothing to download: export again).
    with op.batch_alter_table('background_runs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('content', sa.LargeBinary(), nullable=True))
    op.execute("UPDATE background_runs SET content = (SELECT data FROM background_run_parts p "
               "WHERE p.run_id = background_runs.id AND p.seq = 0) "
               "WHERE content_size IS NOT NULL AND content_size <= 1048576")
    with op.batch_alter_table('background_runs', schema=None) as batch_op:
        batch_op.drop_column('content_size')
    op.drop_table('background_run_parts')

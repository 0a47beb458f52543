"""after-sales (售后): aftersales_tickets (a customer's complaint, repair or home visit: its
product and order, the person responsible, the due date, status and outcome) and
aftersales_notes (what is appended to a ticket: notes, hand-overs, status changes — who, when)

Two new tables, each with the unique one-time token of the form that wrote a row. Nothing
existing changes; the reminders are rows of `tasks` (kind "aftersales").

Revision ID: 6d24334006a1
Revises: d4e7a2b9c1f0
Create Date: 2026-12-06 13:15:38.541468

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '6d24334006a1'
down_revision = 'd4e7a2b9c1f0'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('aftersales_tickets',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=30), nullable=True),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('product_id', sa.Integer(), nullable=True),
    sa.Column('order_id', sa.Integer(), nullable=True),
    sa.Column('description', sa.String(length=1000), nullable=False),
    sa.Column('assignee_id', sa.Integer(), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=True),
    sa.Column('due_date', sa.Date(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('opened_on', sa.Date(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=False),
    sa.Column('closed_at', sa.DateTime(), nullable=True),
    sa.Column('closed_by_id', sa.Integer(), nullable=True),
    sa.Column('days_to_close', sa.Integer(), nullable=True),
    sa.Column('outcome', sa.String(length=1000), nullable=False),
    sa.Column('token', sa.String(length=36), nullable=True),
    sa.CheckConstraint("kind IN ('complaint', 'repair', 'visit')", name=op.f('ck_aftersales_tickets_known_kind')),
    sa.CheckConstraint("status <> 'closed' OR outcome <> ''", name=op.f('ck_aftersales_tickets_closed_has_outcome')),
    sa.CheckConstraint("status IN ('open', 'in_progress', 'closed')", name=op.f('ck_aftersales_tickets_known_status')),
    sa.ForeignKeyConstraint(['assignee_id'], ['users.id'], name=op.f('fk_aftersales_tickets_assignee_id_users')),
    sa.ForeignKeyConstraint(['closed_by_id'], ['users.id'], name=op.f('fk_aftersales_tickets_closed_by_id_users')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_aftersales_tickets_created_by_id_users')),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_aftersales_tickets_customer_id_customers')),
    sa.ForeignKeyConstraint(['department_id'], ['departments.id'], name=op.f('fk_aftersales_tickets_department_id_departments')),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_aftersales_tickets_order_id_orders')),
    sa.ForeignKeyConstraint(['product_id'], ['products.id'], name=op.f('fk_aftersales_tickets_product_id_products')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_aftersales_tickets')),
    sa.UniqueConstraint('number', name=op.f('uq_aftersales_tickets_number')),
    sa.UniqueConstraint('token', name=op.f('uq_aftersales_tickets_token'))
    )
    with op.batch_alter_table('aftersales_tickets', schema=None) as batch_op:
        batch_op.create_index('ix_aftersales_tickets_assignee_status', ['assignee_id', 'status'], unique=False)
        batch_op.create_index(batch_op.f('ix_aftersales_tickets_closed_at'), ['closed_at'], unique=False)
        batch_op.create_index('ix_aftersales_tickets_customer_status', ['customer_id', 'status'], unique=False)
        batch_op.create_index(batch_op.f('ix_aftersales_tickets_department_id'), ['department_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_aftersales_tickets_order_id'), ['order_id'], unique=False)
        batch_op.create_index('ix_aftersales_tickets_status_due', ['status', 'due_date'], unique=False)

    op.create_table('aftersales_notes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ticket_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('text', sa.String(length=1100), nullable=False),
    sa.Column('by_id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('token', sa.String(length=36), nullable=True),
    sa.CheckConstraint("kind IN ('note', 'assign', 'start', 'close', 'reopen')", name=op.f('ck_aftersales_notes_known_kind')),
    sa.ForeignKeyConstraint(['by_id'], ['users.id'], name=op.f('fk_aftersales_notes_by_id_users')),
    sa.ForeignKeyConstraint(['ticket_id'], ['aftersales_tickets.id'], name=op.f('fk_aftersales_notes_ticket_id_aftersales_tickets')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_aftersales_notes')),
    sa.UniqueConstraint('token', name=op.f('uq_aftersales_notes_token'))
    )
    with op.batch_alter_table('aftersales_notes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_aftersales_notes_ticket_id'), ['ticket_id'], unique=False)



def downgrade():
    with op.batch_alter_table('aftersales_notes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_aftersales_notes_ticket_id'))

    op.drop_table('aftersales_notes')
    with op.batch_alter_table('aftersales_tickets', schema=None) as batch_op:
        batch_op.drop_index('ix_aftersales_tickets_status_due')
        batch_op.drop_index(batch_op.f('ix_aftersales_tickets_order_id'))
        batch_op.drop_index(batch_op.f('ix_aftersales_tickets_department_id'))
        batch_op.drop_index('ix_aftersales_tickets_customer_status')
        batch_op.drop_index(batch_op.f('ix_aftersales_tickets_closed_at'))
        batch_op.drop_index('ix_aftersales_tickets_assignee_status')

    op.drop_table('aftersales_tickets')

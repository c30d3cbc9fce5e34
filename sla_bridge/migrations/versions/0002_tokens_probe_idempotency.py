"""token prefixes and last use, the health write probe, idempotency keys

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02
"""

from alembic import op
import sqlalchemy as sa

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('tokens', schema=None) as batch_op:
        batch_op.add_column(sa.Column('prefix', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('last_used_at', sa.DateTime(timezone=True),
                                      nullable=True))
    op.create_table('probes',
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('name')
    )
    op.create_table('idempotency_keys',
    sa.Column('id', ID, autoincrement=True, nullable=False),
    sa.Column('principal', sa.String(length=200), nullable=False),
    sa.Column('key', sa.String(length=255), nullable=False),
    sa.Column('request', sa.String(length=64), nullable=False),
    sa.Column('status', sa.Integer(), nullable=False),
    sa.Column('body', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('principal', 'key', name='uq_idempotency_principal_key')
    )


def downgrade() -> None:
    op.drop_table('idempotency_keys')
    op.drop_table('probes')
    with op.batch_alter_table('tokens', schema=None) as batch_op:
        batch_op.drop_column('last_used_at')
        batch_op.drop_column('prefix')

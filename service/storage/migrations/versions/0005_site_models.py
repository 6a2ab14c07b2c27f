"""site models: per-site likely_rejected versions

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25 00:20:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from sqlalchemy.dialects import postgresql

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'site_models',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('site_id', sa.String(length=32), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('decisions_seen', sa.Integer(), nullable=False),
        sa.Column('metrics', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
        sa.Column('artifact', sa.LargeBinary(), nullable=False),
        sa.Column('active', sa.Boolean(), nullable=False),
        sa.Column('accepted', sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(['site_id'], ['sites.id'], name=op.f('fk_site_models_site_id_sites'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_site_models')),
        sa.UniqueConstraint('site_id', 'version', name=op.f('uq_site_models_site_id')),
    )
    with op.batch_alter_table('site_models', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_site_models_site_id'), ['site_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('site_models', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_site_models_site_id'))
    op.drop_table('site_models')

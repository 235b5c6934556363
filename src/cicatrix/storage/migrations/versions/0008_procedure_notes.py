"""a course session's structured procedure note (device, depth, energy, lot, treated areas ...)

Revision ID: 0008
Revises: 0004

The note's fields come from the knowledge data (`procedure_notes.yaml`); the column holds the
validated values as JSON, versioned with the session's own `version`. Plans gain the statuses
`withdrawn` (a clinician discarded a proposal, with a reason) and `superseded` for proposals a
newer assessment replaced; `status` is a plain string column, so no schema change is needed for
them.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("course_session") as batch:
        batch.add_column(sa.Column("procedure", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("course_session") as batch:
        batch.drop_column("procedure")

"""the outbox: messages to patients and their choices

Revision ID: 0010
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "message",
        sa.Column("id", _ID, nullable=False),
        sa.Column("clinic_id", _ID, nullable=False),
        sa.Column("patient_id", _ID, nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("template", sa.String(length=64), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("due", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lease_owner", sa.String(length=64), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("provider_id", sa.String(length=200), nullable=True),
        sa.Column("last_error", sa.String(length=200), nullable=True),
        sa.Column("session_id", _ID, nullable=True),
        sa.Column("context", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["clinic_id"], ["clinic.id"], name=op.f("fk_message_clinic_id_clinic")),
        sa.ForeignKeyConstraint(["patient_id"], ["patient.id"], name=op.f("fk_message_patient_id_patient")),
        sa.ForeignKeyConstraint(
            ["session_id"], ["course_session.id"], name=op.f("fk_message_session_id_course_session")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_message")),
        sa.UniqueConstraint("key", name=op.f("uq_message_key")),
    )
    op.create_index("ix_message_due", "message", ["status", "next_attempt_at"])
    op.create_index("ix_message_patient", "message", ["patient_id", "due"])
    op.create_index("ix_message_clinic_status", "message", ["clinic_id", "status", "due"])
    op.create_table(
        "message_choice",
        sa.Column("patient_id", _ID, nullable=False),
        sa.Column("clinic_id", _ID, nullable=False),
        sa.Column("channels", sa.JSON(), nullable=False),
        sa.Column("quiet_start", sa.String(length=5), nullable=True),
        sa.Column("quiet_end", sa.String(length=5), nullable=True),
        sa.Column("opted_out", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["clinic_id"], ["clinic.id"], name=op.f("fk_message_choice_clinic_id_clinic")),
        sa.ForeignKeyConstraint(["patient_id"], ["patient.id"], name=op.f("fk_message_choice_patient_id_patient")),
        sa.PrimaryKeyConstraint("patient_id", name=op.f("pk_message_choice")),
    )


def downgrade() -> None:
    op.drop_table("message_choice")
    op.drop_index("ix_message_clinic_status", table_name="message")
    op.drop_index("ix_message_patient", table_name="message")
    op.drop_index("ix_message_due", table_name="message")
    op.drop_table("message")

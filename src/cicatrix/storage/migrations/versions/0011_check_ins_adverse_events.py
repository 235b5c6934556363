"""check-ins after a session and adverse events

Revision ID: 0011
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
AT = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "check_in",
        sa.Column("id", ID, nullable=False),
        sa.Column("clinic_id", ID, nullable=False),
        sa.Column("patient_id", ID, nullable=False),
        sa.Column("session_id", ID, nullable=False),
        sa.Column("day", sa.Integer(), nullable=False),
        sa.Column("answer", sa.String(length=64), nullable=False),
        sa.Column("signs", sa.JSON(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("needs_attention", sa.Boolean(), nullable=False),
        sa.Column("answered_at", AT, nullable=False),
        sa.Column("changed_at", AT, nullable=False),
        sa.Column("changes", sa.Integer(), nullable=False),
        sa.Column("acknowledged_by", ID, nullable=True),
        sa.Column("acknowledged_at", AT, nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["clinic_id"], ["clinic.id"], name=op.f("fk_check_in_clinic_id_clinic")),
        sa.ForeignKeyConstraint(["patient_id"], ["patient.id"], name=op.f("fk_check_in_patient_id_patient")),
        sa.ForeignKeyConstraint(
            ["session_id"], ["course_session.id"], name=op.f("fk_check_in_session_id_course_session")
        ),
        sa.ForeignKeyConstraint(
            ["acknowledged_by"], ["user_account.id"], name=op.f("fk_check_in_acknowledged_by_user_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_check_in")),
    )
    with op.batch_alter_table("check_in", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_check_in_patient_id"), ["patient_id"], unique=False)
        batch_op.create_index("uq_check_in_session_day", ["session_id", "day"], unique=True)
        batch_op.create_index(
            "ix_check_in_clinic_attention", ["clinic_id", "needs_attention", "acknowledged_at"], unique=False
        )

    op.create_table(
        "adverse_event",
        sa.Column("id", ID, nullable=False),
        sa.Column("clinic_id", ID, nullable=False),
        sa.Column("patient_id", ID, nullable=False),
        sa.Column("session_id", ID, nullable=False),
        sa.Column("check_in_id", ID, nullable=True),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("severity", sa.String(length=32), nullable=False),
        sa.Column("outcome", sa.String(length=32), nullable=False),
        sa.Column("onset", sa.Date(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("recorded_by", ID, nullable=False),
        sa.Column("recorded_at", AT, nullable=False),
        sa.Column("updated_by", ID, nullable=True),
        sa.Column("updated_at", AT, nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["clinic_id"], ["clinic.id"], name=op.f("fk_adverse_event_clinic_id_clinic")),
        sa.ForeignKeyConstraint(["patient_id"], ["patient.id"], name=op.f("fk_adverse_event_patient_id_patient")),
        sa.ForeignKeyConstraint(
            ["session_id"], ["course_session.id"], name=op.f("fk_adverse_event_session_id_course_session")
        ),
        sa.ForeignKeyConstraint(["check_in_id"], ["check_in.id"], name=op.f("fk_adverse_event_check_in_id_check_in")),
        sa.ForeignKeyConstraint(
            ["recorded_by"], ["user_account.id"], name=op.f("fk_adverse_event_recorded_by_user_account")
        ),
        sa.ForeignKeyConstraint(
            ["updated_by"], ["user_account.id"], name=op.f("fk_adverse_event_updated_by_user_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_adverse_event")),
    )
    with op.batch_alter_table("adverse_event", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_adverse_event_patient_id"), ["patient_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_adverse_event_session_id"), ["session_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("adverse_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_adverse_event_session_id"))
        batch_op.drop_index(batch_op.f("ix_adverse_event_patient_id"))
    op.drop_table("adverse_event")
    with op.batch_alter_table("check_in", schema=None) as batch_op:
        batch_op.drop_index("ix_check_in_clinic_attention")
        batch_op.drop_index("uq_check_in_session_day")
        batch_op.drop_index(batch_op.f("ix_check_in_patient_id"))
    op.drop_table("check_in")

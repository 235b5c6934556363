"""appointments: rooms, the clinic's calendar, and appointments that cannot double-book

Revision ID: 0007
Revises: 0004

On PostgreSQL two exclusion constraints (extension `btree_gist`) refuse a second active
appointment overlapping the same practitioner's or the same room's time range, whatever the
application does; SQLite has no such constraint and the booking checks inside its
`BEGIN IMMEDIATE` transaction instead (service/appointments.py).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0005"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_AT = sa.DateTime(timezone=True)
_ACTIVE = sa.text("status IN ('booked', 'arrived')")


def upgrade() -> None:
    op.create_table(
        "clinic_calendar",
        sa.Column("clinic_id", _ID, nullable=False),
        sa.Column("hours", sa.JSON(), nullable=False),
        sa.Column("closures", sa.JSON(), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=True),
        sa.Column("subdivision", sa.String(length=10), nullable=True),
        sa.Column("updated_at", _AT, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["clinic_id"], ["clinic.id"], name=op.f("fk_clinic_calendar_clinic_id_clinic")),
        sa.PrimaryKeyConstraint("clinic_id", name=op.f("pk_clinic_calendar")),
    )
    op.create_table(
        "room",
        sa.Column("id", _ID, nullable=False),
        sa.Column("clinic_id", _ID, nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["clinic_id"], ["clinic.id"], name=op.f("fk_room_clinic_id_clinic")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_room")),
    )
    with op.batch_alter_table("room") as batch_op:
        batch_op.create_index(batch_op.f("ix_room_clinic_id"), ["clinic_id"], unique=False)
        batch_op.create_index("uq_room_clinic_name", ["clinic_id", "name"], unique=True)
    op.create_table(
        "appointment",
        sa.Column("id", _ID, nullable=False),
        sa.Column("clinic_id", _ID, nullable=False),
        sa.Column("patient_id", _ID, nullable=False),
        sa.Column("session_id", _ID, nullable=False),
        sa.Column("practitioner_id", _ID, nullable=False),
        sa.Column("room_id", _ID, nullable=False),
        sa.Column("start", _AT, nullable=False),
        sa.Column("end", _AT, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("override_reason", sa.Text(), nullable=True),
        sa.Column("cancel_reason", sa.Text(), nullable=True),
        sa.Column("booked_by", _ID, nullable=False),
        sa.Column("booked_at", _AT, nullable=False),
        sa.Column("arrived_at", _AT, nullable=True),
        sa.Column("status_by", _ID, nullable=True),
        sa.Column("status_at", _AT, nullable=True),
        sa.Column("previous_status", sa.String(length=16), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["clinic_id"], ["clinic.id"], name=op.f("fk_appointment_clinic_id_clinic")),
        sa.ForeignKeyConstraint(["patient_id"], ["patient.id"], name=op.f("fk_appointment_patient_id_patient")),
        sa.ForeignKeyConstraint(
            ["session_id"], ["course_session.id"], name=op.f("fk_appointment_session_id_course_session")
        ),
        sa.ForeignKeyConstraint(
            ["practitioner_id"], ["user_account.id"], name=op.f("fk_appointment_practitioner_id_user_account")
        ),
        sa.ForeignKeyConstraint(["room_id"], ["room.id"], name=op.f("fk_appointment_room_id_room")),
        sa.ForeignKeyConstraint(["booked_by"], ["user_account.id"], name=op.f("fk_appointment_booked_by_user_account")),
        sa.ForeignKeyConstraint(["status_by"], ["user_account.id"], name=op.f("fk_appointment_status_by_user_account")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_appointment")),
        sa.CheckConstraint('"end" > start', name="ck_appointment_end_after_start"),
    )
    with op.batch_alter_table("appointment") as batch_op:
        batch_op.create_index("ix_appointment_clinic_start", ["clinic_id", "start"], unique=False)
        batch_op.create_index("ix_appointment_practitioner_start", ["practitioner_id", "start"], unique=False)
        batch_op.create_index("ix_appointment_room_start", ["room_id", "start"], unique=False)
        batch_op.create_index(batch_op.f("ix_appointment_patient_id"), ["patient_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_appointment_session_id"), ["session_id"], unique=False)
        batch_op.create_index(
            "uq_appointment_one_active",
            ["session_id"],
            unique=True,
            sqlite_where=_ACTIVE,
            postgresql_where=_ACTIVE,
        )
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
        for name, column in (("ex_appointment_practitioner", "practitioner_id"), ("ex_appointment_room", "room_id")):
            op.execute(
                f"ALTER TABLE appointment ADD CONSTRAINT {name} EXCLUDE USING gist "
                f"({column} WITH =, tstzrange(start, \"end\", '[)') WITH &&) "
                "WHERE (status IN ('booked', 'arrived'))"
            )


def downgrade() -> None:
    op.drop_table("appointment")
    with op.batch_alter_table("room") as batch_op:
        batch_op.drop_index("uq_room_clinic_name")
        batch_op.drop_index(batch_op.f("ix_room_clinic_id"))
    op.drop_table("room")
    op.drop_table("clinic_calendar")

"""concurrency guards: one approved plan per patient, course session versions

Revision ID: 0004
Revises: 0003

Before the unique index can be built, a patient who already has several approved plans (the
approval race this revision closes) keeps only the most recently approved one; the others are
superseded and their planned sessions cancelled, exactly as a later approval does, and each
repair is written to the audit trail.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_APPROVED = sa.text("status = 'approved'")


def _supersede_duplicate_approvals() -> None:
    conn = op.get_bind()
    rows = conn.execute(
        sa.text(
            "SELECT id, clinic_id, patient_id FROM plan WHERE status = 'approved' "
            "ORDER BY patient_id, CASE WHEN approved_at IS NULL THEN 1 ELSE 0 END, approved_at DESC, id DESC"
        )
    ).all()
    seen: set[int] = set()
    now = datetime.now(UTC)
    for plan_id, clinic_id, patient_id in rows:
        if patient_id not in seen:
            seen.add(patient_id)  # the newest approval stays in force
            continue
        conn.execute(
            sa.text("UPDATE plan SET status = 'superseded', version = version + 1 WHERE id = :id"), {"id": plan_id}
        )
        conn.execute(
            sa.text(
                "UPDATE course_session SET status = 'cancelled', sequence = sequence + 1 "
                "WHERE plan_id = :id AND status = 'planned'"
            ),
            {"id": plan_id},
        )
        conn.execute(
            sa.text(
                "INSERT INTO audit_event (at, clinic_id, action, entity, entity_id, patient_id, detail) "
                "VALUES (:at, :clinic_id, 'supersede', 'plan', :entity_id, :patient_id, :detail)"
            ),
            {
                "at": now,
                "clinic_id": clinic_id,
                "entity_id": str(plan_id),
                "patient_id": patient_id,
                "detail": "migration 0004: a second approved plan of the patient",
            },
        )


def upgrade() -> None:
    with op.batch_alter_table("course_session", schema=None) as batch_op:
        batch_op.add_column(sa.Column("version", sa.Integer(), server_default="1", nullable=False))
    _supersede_duplicate_approvals()
    with op.batch_alter_table("plan", schema=None) as batch_op:
        batch_op.create_index(
            "uq_plan_one_approved",
            ["patient_id"],
            unique=True,
            sqlite_where=_APPROVED,
            postgresql_where=_APPROVED,
        )


def downgrade() -> None:
    with op.batch_alter_table("plan", schema=None) as batch_op:
        batch_op.drop_index("uq_plan_one_approved", sqlite_where=_APPROVED, postgresql_where=_APPROVED)
    with op.batch_alter_table("course_session", schema=None) as batch_op:
        batch_op.drop_column("version")

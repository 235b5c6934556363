"""patient records: one record number per clinic, an accent-folded search key

Revision ID: 0009
Revises: 0004

1. Record numbers become unique per clinic: a partial unique index `uq_patient_clinic_mrn` on
   (clinic_id, mrn) WHERE mrn IS NOT NULL replaces the plain index `ix_patient_clinic_mrn`.

   A database may already hold duplicates (the service accepted them before). They are
   repaired before the index is built, losing nothing: in each clinic the patient created first
   (lowest id) keeps the number; every other patient with it gets no record number, the number
   is kept in that patient's `identifiers` (system `urn:cicatrix:former-record-number`, type
   `MR`, so it is still shown and exported), and each repair is an `audit_event`
   (`action: "update"`, detail `migration 0009: ...`, ids only) for the clinic to review and
   give the patient a new number on the edit page.

2. `name_key` folds accents as well as case (`cicatrix.storage.keys.name_key`: "Zoë" → "zoe"),
   on both back ends, so search is accent- and case-insensitive; every row is backfilled.

Downgrade restores the plain index; the folded keys stay (they still match lower-case search)
and the repaired record numbers are not put back (they would break nothing but duplicate).
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from cicatrix.storage.keys import name_key

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

FORMER = "urn:cicatrix:former-record-number"
_HAS_MRN = sa.text("mrn IS NOT NULL")

_patient = sa.table(
    "patient",
    sa.column("id", sa.BigInteger),
    sa.column("clinic_id", sa.BigInteger),
    sa.column("name", sa.String),
    sa.column("name_key", sa.String),
    sa.column("mrn", sa.String),
    sa.column("identifiers", sa.JSON),
)
_audit = sa.table(
    "audit_event",
    sa.column("at", sa.DateTime(timezone=True)),
    sa.column("clinic_id", sa.BigInteger),
    sa.column("action", sa.String),
    sa.column("entity", sa.String),
    sa.column("entity_id", sa.String),
    sa.column("patient_id", sa.BigInteger),
    sa.column("detail", sa.String),
)


def _clear_duplicate_record_numbers(conn: sa.Connection) -> None:
    rows = conn.execute(
        sa.select(_patient.c.id, _patient.c.clinic_id, _patient.c.mrn, _patient.c.identifiers)
        .where(_patient.c.mrn.is_not(None))
        .order_by(_patient.c.clinic_id, _patient.c.mrn, _patient.c.id)
    ).all()
    keeper: dict[tuple[int, str], int] = {}
    now = datetime.now(UTC)
    for pid, clinic_id, mrn, identifiers in rows:
        first = keeper.setdefault((clinic_id, mrn), pid)
        if first == pid:
            continue
        kept = [*(identifiers or []), {"system": FORMER, "value": mrn, "type": "MR"}]
        conn.execute(sa.update(_patient).where(_patient.c.id == pid).values(mrn=None, identifiers=kept))
        conn.execute(
            sa.insert(_audit).values(
                at=now,
                clinic_id=clinic_id,
                action="update",
                entity="patient",
                entity_id=str(pid),
                patient_id=pid,
                detail=f"migration 0009: record number cleared, patient {first} has the same one (kept in identifiers)",
            )
        )


def _fold_name_keys(conn: sa.Connection) -> None:
    for pid, name, key in conn.execute(sa.select(_patient.c.id, _patient.c.name, _patient.c.name_key)).all():
        folded = name_key(name)
        if folded != key:
            conn.execute(sa.update(_patient).where(_patient.c.id == pid).values(name_key=folded))


def upgrade() -> None:
    conn = op.get_bind()
    _clear_duplicate_record_numbers(conn)
    _fold_name_keys(conn)
    with op.batch_alter_table("patient", schema=None) as batch_op:
        batch_op.drop_index("ix_patient_clinic_mrn")
        batch_op.create_index(
            "uq_patient_clinic_mrn",
            ["clinic_id", "mrn"],
            unique=True,
            sqlite_where=_HAS_MRN,
            postgresql_where=_HAS_MRN,
        )


def downgrade() -> None:
    with op.batch_alter_table("patient", schema=None) as batch_op:
        batch_op.drop_index("uq_patient_clinic_mrn", sqlite_where=_HAS_MRN, postgresql_where=_HAS_MRN)
        batch_op.create_index("ix_patient_clinic_mrn", ["clinic_id", "mrn"], unique=False)

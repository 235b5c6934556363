"""second factor: TOTP secret and last step per account, recovery codes, the factor a token
was issued with, and the clinic's choice to require it of clinicians

Revision ID: 0005
Revises: 0004

Existing tokens are marked as issued without a second factor: an admin's sessions then open
only the enrolment page until the admin enrols (issue 12 §3).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    # Plain ALTER TABLE ... ADD COLUMN on both back ends: a batch copy of `clinic` or
    # `user_account` on SQLite would drop tables other rows point at (foreign keys enforced).
    op.add_column("user_account", sa.Column("totp_secret", sa.String(length=255), nullable=True))
    op.add_column("user_account", sa.Column("totp_confirmed_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("user_account", sa.Column("totp_last_step", sa.BigInteger(), nullable=True))
    op.add_column(
        "api_token", sa.Column("second_factor", sa.Boolean(), server_default=sa.text("false"), nullable=False)
    )
    op.add_column(
        "clinic", sa.Column("second_factor_clinicians", sa.Boolean(), server_default=sa.text("false"), nullable=False)
    )
    op.create_table(
        "recovery_code",
        sa.Column("id", _ID, nullable=False),
        sa.Column("user_id", _ID, nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["user_account.id"], name=op.f("fk_recovery_code_user_id_user_account")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recovery_code")),
        sa.UniqueConstraint("code_hash", name=op.f("uq_recovery_code_code_hash")),
    )
    with op.batch_alter_table("recovery_code", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_recovery_code_user_id"), ["user_id"], unique=False)


def _drop_columns(table: str, *columns: str) -> None:
    """Drop columns in place: on SQLite (3.35 or later) with ALTER TABLE ... DROP COLUMN, not
    a batch copy of the table, which cannot drop `clinic` or `user_account` while other tables'
    rows point at them (foreign keys are enforced)."""
    if op.get_bind().dialect.name == "sqlite":
        for column in columns:
            op.execute(f'ALTER TABLE "{table}" DROP COLUMN "{column}"')
        return
    for column in columns:
        op.drop_column(table, column)


def downgrade() -> None:
    with op.batch_alter_table("recovery_code", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_recovery_code_user_id"))
    op.drop_table("recovery_code")
    _drop_columns("clinic", "second_factor_clinicians")
    _drop_columns("api_token", "second_factor")
    _drop_columns("user_account", "totp_last_step", "totp_confirmed_at", "totp_secret")

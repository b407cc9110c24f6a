"""electronic signatures: one-time codes and evidence per party, the signature's method

`esign_requests`: one row per party and contract PDF (issue 16) — the invitation, the hashed
one-time code, and once signed the evidence (e-mail, time, IP, user-agent, document SHA-256,
consent text). `signatures.method`: `typed` (an agent recorded the name, as before) or
`electronic`; the signatures recorded before are `typed`, the column's server default.

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-30 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "signatures",
        sa.Column("method", sa.String(length=12), nullable=False, server_default="typed"),
    )
    op.create_table(
        "esign_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("contract_id", sa.Integer(), nullable=False),
        sa.Column("pdf_id", sa.Integer(), nullable=False),
        sa.Column("document_sha256", sa.String(length=64), nullable=False),
        sa.Column("party", sa.String(length=20), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("signer_name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=True),
        sa.Column("code_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("code_attempts", sa.Integer(), nullable=False),
        sa.Column("signature_id", sa.Integer(), nullable=True),
        sa.Column("signed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ip", sa.String(length=64), nullable=True),
        sa.Column("user_agent", sa.String(length=400), nullable=True),
        sa.Column("consent_text", sa.Text(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('pending', 'signed', 'refused', 'invalidated')",
            name=op.f("ck_esign_requests_status"),
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_esign_requests_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["contract_id"], ["documents.id"], name=op.f("fk_esign_requests_contract_id_documents")
        ),
        sa.ForeignKeyConstraint(
            ["pdf_id"], ["documents.id"], name=op.f("fk_esign_requests_pdf_id_documents")
        ),
        sa.ForeignKeyConstraint(
            ["signature_id"],
            ["signatures.id"],
            name=op.f("fk_esign_requests_signature_id_signatures"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_esign_requests")),
        sa.UniqueConstraint("pdf_id", "party", name=op.f("uq_esign_requests_pdf_id_party")),
    )
    op.create_index(op.f("ix_esign_requests_case_id"), "esign_requests", ["case_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_esign_requests_case_id"), table_name="esign_requests")
    op.drop_table("esign_requests")
    op.drop_column("signatures", "method")

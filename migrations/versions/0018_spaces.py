"""participants' spaces: learner accounts and one-time sign-in links (issue 15)

- `users.role` admits `learner`; `users.learner_id` ties a learner's account to their record.
- `sign_in_links`: one-time sign-in links (invitations), the token kept as its SHA-256 only.

On SQLite the role's CHECK is changed in place (the stored rows already satisfy the new one):
a batch copy of `users` would drop a table that `web_sessions` points to.

Revision ID: 0018
Revises: 0017
Create Date: 2026-11-29 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ROLES = "'region', 'employer', 'institute', 'admin'"
LEARNER_COLUMN = (
    "learner_id INTEGER CONSTRAINT fk_users_learner_id_learners REFERENCES learners (id)"
)


def upgrade() -> None:
    _role_check(ROLES, f"{ROLES}, 'learner'")
    if _sqlite():
        # Alembic's add_column cannot add a foreign key on SQLite; SQLite's own ADD COLUMN can.
        op.execute(f"ALTER TABLE users ADD COLUMN {LEARNER_COLUMN}")
    else:
        op.add_column("users", sa.Column("learner_id", sa.Integer(), nullable=True))
        op.create_foreign_key(
            op.f("fk_users_learner_id_learners"), "users", "learners", ["learner_id"], ["id"]
        )
    op.create_index(op.f("ix_users_learner_id"), "users", ["learner_id"], unique=False)
    op.create_table(
        "sign_in_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_sign_in_links_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sign_in_links")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_sign_in_links_token_hash")),
    )
    op.create_index(op.f("ix_sign_in_links_user_id"), "sign_in_links", ["user_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_sign_in_links_user_id"), table_name="sign_in_links")
    op.drop_table("sign_in_links")
    op.execute("DELETE FROM web_sessions WHERE user_id IN (SELECT id FROM users "
               "WHERE role = 'learner')")  # fmt: skip
    op.execute("DELETE FROM users WHERE role = 'learner'")
    op.drop_index(op.f("ix_users_learner_id"), table_name="users")
    if _sqlite():
        _drop_learner_column_sqlite()
    else:
        op.drop_constraint(op.f("fk_users_learner_id_learners"), "users", type_="foreignkey")
        op.drop_column("users", "learner_id")
    _role_check(f"{ROLES}, 'learner'", ROLES)


def _sqlite() -> bool:
    return bool(op.get_bind().dialect.name == "sqlite")


def _role_check(before: str, after: str) -> None:
    if not _sqlite():
        op.drop_constraint(op.f("ck_users_role"), "users", type_="check")
        op.create_check_constraint(op.f("ck_users_role"), "users", f"role IN ({after})")
        return
    _edit_sqlite_schema(f"role IN ({before})", f"role IN ({after})")


def _drop_learner_column_sqlite() -> None:
    """SQLite's DROP COLUMN refuses a column with a foreign key: copy `users` without it. The
    web sessions point to `users`: they are ended (deleted) first, so the old table can go."""
    bind = op.get_bind()
    sql = bind.execute(
        sa.text("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'users'")
    ).scalar_one()
    column = f", {LEARNER_COLUMN}"
    if sql.count(column) != 1 or not sql.startswith("CREATE TABLE users ("):
        raise RuntimeError(f"users: {column!r} not found in {sql!r}")
    kept = ", ".join(
        c["name"] for c in sa.inspect(bind).get_columns("users") if c["name"] != "learner_id"
    )
    op.execute("DELETE FROM web_sessions")
    table = sql.replace(column, "").replace("CREATE TABLE users (", "CREATE TABLE users_new (", 1)
    op.execute(table)
    op.execute(f"INSERT INTO users_new ({kept}) SELECT {kept} FROM users")
    op.execute("DROP TABLE users")
    op.execute("ALTER TABLE users_new RENAME TO users")


def _edit_sqlite_schema(old: str, new: str) -> None:
    """SQLite's procedure for a change of `users`' definition its stored rows already satisfy
    (as migration 0013 does for `documents`)."""
    bind = op.get_bind()
    sql = bind.execute(
        sa.text("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'users'")
    ).scalar_one()
    if sql.count(old) != 1:
        raise RuntimeError(f"users: {old!r} not found in {sql!r}")
    version = bind.execute(sa.text("PRAGMA schema_version")).scalar_one()
    bind.exec_driver_sql("PRAGMA writable_schema=ON")
    bind.execute(
        sa.text("UPDATE sqlite_master SET sql = :sql WHERE type = 'table' AND name = 'users'"),
        {"sql": sql.replace(old, new)},
    )
    bind.exec_driver_sql(f"PRAGMA schema_version={int(version) + 1}")
    bind.exec_driver_sql("PRAGMA writable_schema=OFF")
    problems = bind.exec_driver_sql("PRAGMA integrity_check").scalars().all()
    if problems != ["ok"]:
        raise RuntimeError(f"users: integrity check failed: {problems}")

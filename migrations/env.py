"""Alembic environment: Fidelis passes its engine in `config.attributes["engine"]`
(see workflow.db.upgrade); `alembic -x url=...` works too for hand use."""

from __future__ import annotations

from alembic import context

from workflow.db import make_engine
from workflow.models import Base

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    engine = config.attributes.get("engine")
    if engine is None:
        engine = make_engine(context.get_x_argument(as_dictionary=True).get("url"))
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


run_migrations_online()

"""Alembic environment: the engine comes from the caller (schema.migrate), never from an ini file."""

from __future__ import annotations

from alembic import context

from schema.derived import include_object
from schema.models import metadata

config = context.config


def run_migrations_online() -> None:
    engine = config.attributes.get("engine")
    if engine is None:
        from schema.db import make_engine

        engine = make_engine()
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
            include_object=include_object,
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


run_migrations_online()

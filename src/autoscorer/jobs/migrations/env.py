"""Alembic environment: the engine comes from the job store (``config.attributes``)."""

from __future__ import annotations

from alembic import context

from autoscorer.jobs.models import Base

engine = context.config.attributes["engine"]
with engine.connect() as connection:
    context.configure(connection=connection, target_metadata=Base.metadata)
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()

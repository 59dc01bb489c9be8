"""Alembic migrations, applied by ``Store.open`` before anything else touches the database."""

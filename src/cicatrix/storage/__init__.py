"""Persistence: SQLAlchemy tables, database set-up, Alembic migrations and SQLite backups.

SQLite in a data directory is the default so one command gives a working clinic;
PostgreSQL (``CICATRIX_DATABASE_URL``) is the path for many clinics and workers.
"""

"""Persistence: SQLAlchemy models, migrations and the queries. The only package that knows SQL."""

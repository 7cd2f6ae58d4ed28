"""Persistence platform: the SQLAlchemy models, engines and units of work, where work runs (runner.py,
loop_writer.py) and the migrations. Each feature's queries modules hold its SQL (docs/architecture.md)."""

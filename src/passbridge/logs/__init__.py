"""The logs: the directory audit log and the sign-in log (Graph's auditLogs). rules.py holds what a
search may ask for (pure); audit.py and signin_log.py write entries in the caller's transaction and
read them for those allowed; audit_queries.py, signin_log_queries.py and queries.py (what the two
share: time comparisons, stable pages) hold the logs' SQL (docs/architecture.md)."""

"""Use cases. Each takes a unit of work and a principal, checks permission, applies the rules,
writes, and records an audit entry in the same transaction."""

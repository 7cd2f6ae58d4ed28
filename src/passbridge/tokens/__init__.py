"""Tokens: signing keys, OIDC codes and refresh tokens, and what the tokens say. service.py issues and
checks access tokens (cache.py keeps its per-process snapshots), keys.py rotates the signing keys, oidc.py
stores codes and rotates refresh tokens, claims.py says what a user's tokens hold, authorize.py decides when
an authorization request may use the session, revocation.py ends a user's sign-ins; key_queries.py,
oidc_queries.py, client_queries.py and revocation_queries.py hold their SQL (docs/architecture.md)."""

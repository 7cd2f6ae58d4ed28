"""Temporary Access Passes and the authentication methods policy they are judged against. rules.py
(generating a pass, whether it is usable now) and policy_rules.py (the TAP policy's values, validation
and targeting, shared by every method configuration) are pure; service.py issues, reads and revokes
passes, policy.py reads and changes the policy; queries.py and policy_queries.py hold their SQL
(docs/architecture.md)."""

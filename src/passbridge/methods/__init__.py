"""Authentication methods: passkeys and authenticator apps, and the Fido2 and SoftwareOath method
configurations. policy_rules.py, strength.py and aaguids.py are pure; service.py lists every method kind
of a user, access.py decides who may read or change whose methods, passwordless.py reads and deletes
passkeys and apps, registration.py, passkeys.py and oath.py register them; passkey_queries.py,
oath_queries.py, config_queries.py, ceremonies.py and reads.py hold their SQL (docs/architecture.md)."""

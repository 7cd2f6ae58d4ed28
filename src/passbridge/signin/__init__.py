"""Sign-in: the flow, its strategies (pass, passkey, code), the throttle, sessions (docs/architecture.md)."""

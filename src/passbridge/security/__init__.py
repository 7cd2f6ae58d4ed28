"""Secret handling: the pepper, hashing, sealing and signing keys."""

"""Pure rules: no I/O, no database, time passed in."""

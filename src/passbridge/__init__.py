"""Passbridge: a self-hosted identity provider built around Temporary Access Passes."""

__version__ = "0.1.0"

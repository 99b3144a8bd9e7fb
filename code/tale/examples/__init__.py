"""Servers built on tale's streams, to run with ``python -m tale.examples.NAME``."""

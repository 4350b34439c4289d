"""Harvesters: one module per kind of remote catalogue."""

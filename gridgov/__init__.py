"""gridgov: grid governance on PostGIS — the domain library (no web framework imports)."""

__version__ = "0.1.0"

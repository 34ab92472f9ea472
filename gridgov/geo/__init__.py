"""Coordinates and measurement: CRS conversion, metres not degrees."""

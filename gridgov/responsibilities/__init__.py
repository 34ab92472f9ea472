"""Incident categories and the responsibility list (权责清单): who handles what, where, how fast."""

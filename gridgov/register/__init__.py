"""The register (一张表): people, houses, enterprises and things of every grid, entered once."""

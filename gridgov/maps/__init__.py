"""The command-centre map's layers (GeoJSON by bounding box, heat points, grid shading)."""

"""Four-quadrant evaluation (四象限评价) of departments: speed against effectiveness."""

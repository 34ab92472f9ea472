"""Administrative areas and grids, versioned in generations, and the point lookup."""

"""Electronic fences (电子围栏): trackers cross them, once per real crossing."""

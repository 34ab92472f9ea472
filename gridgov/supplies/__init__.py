"""Emergency supplies (应急物资): stockpiles, stock, the nearest search, reservations."""

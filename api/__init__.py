"""The FastAPI adapter around the gridgov library: parse, authorise, call, shape."""

"""people: persons and households."""

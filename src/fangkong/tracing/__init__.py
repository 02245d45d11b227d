"""Tracing (流调溯源): cases, investigations, the contact engine and transmission chains."""

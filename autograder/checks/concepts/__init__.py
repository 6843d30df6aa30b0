"""Checks shared by several assignments (each registers them with its own parameters)."""

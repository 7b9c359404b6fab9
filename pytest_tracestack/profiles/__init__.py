"""Profiles: their model, file format, the files they name, pinned versions."""

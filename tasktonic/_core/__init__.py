"""The compiled twins of the hot paths, built from the repository's ``_core/*.pyx``."""

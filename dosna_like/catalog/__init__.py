"""Searching many files: find the files under a URL, search their indexes, pick latest versions."""

__all__: list[str] = []



"""The per-file search index: queries, node summaries, the sidecar and the live index of an open file."""

__all__: list[str] = []



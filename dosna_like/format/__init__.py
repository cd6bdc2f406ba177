"""The on-store format: names, keys, the chunk grid, node documents, the reserved
metadata namespace, dtypes and attribute values.  Pure data rules, no I/O."""

__all__: list[str] = []



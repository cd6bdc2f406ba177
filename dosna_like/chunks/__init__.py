"""The chunk engine: selections to chunk projections, the chunk cache, thread pools, chunk I/O."""

__all__: list[str] = []



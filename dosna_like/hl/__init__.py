"""h5py's object layer: File, Group, Dataset, attributes, views, links, copying, DosNa's Cluster and Pool."""

__all__: list[str] = []



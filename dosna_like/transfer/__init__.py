"""Moving whole files: HDF5 import and export, store-to-store copies."""

__all__: list[str] = []



"""``get_config()``: the library-wide settings object h5py code sometimes touches."""
from __future__ import annotations

__all__ = ["Config", "get_config"]


class Config:
    """Mirrors the parts of ``h5py.get_config()`` that code commonly sets or reads.

    ``track_order``: new groups and files iterate in creation order unless told
    otherwise (h5py's default is False, and so is ours).
    """

    def __init__(self):
        self.track_order = False
        self.complex_names = ("r", "i")
        self.bool_names = ("FALSE", "TRUE")

    def __repr__(self) -> str:
        return f"<dosna_like config: track_order={self.track_order}>"


_CONFIG = Config()


def get_config() -> Config:
    return _CONFIG

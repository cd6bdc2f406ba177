"""The ``h5py`` module tree that ``install_as_h5py()`` puts in ``sys.modules``.

One module object named ``h5py`` stands for the package: it has every public
name of ``dosna_like`` (and looks up anything else there), h5py's
``__version__``, and the submodules libraries import by name
(``h5py.version``, ``h5py.h5t``, ``h5py.filters``, ``h5py._hl.dataset``...).
A separate module object, rather than ``dosna_like`` itself, is what lets
``h5py.__version__`` pass h5py 3.x version gates while
``dosna_like.__version__`` stays the library's own.  Submodules that are
HDF5's low-level API (``h5py.h5s``, ``h5py.h5a``...) are not there: importing
them raises ModuleNotFoundError (``h5py.h5p`` and ``h5py.h5d`` hold only the
constants that high-level calls answer with).
"""
from __future__ import annotations

import math
import os
import threading
import types

from ..config import get_config
from ..errors import H5pyDeprecationWarning
from ..format.dtypes import Empty
from ..format.links import ExternalLink, HardLink, SoftLink
from ..format.references import Reference, RegionReference
from ..hl.attrs import AttributeManager
from ..hl.base import HLObject
from ..hl.dataset import Dataset
from ..hl.datatype import Datatype
from ..hl.files import File, is_hdf5
from ..hl.group import Group
from ..hl.ident import (AttrID, CHUNKED, COMPACT, CONTIGUOUS, CRT_ORDER_INDEXED, CRT_ORDER_TRACKED, FILL_TIME_ALLOC,
                        FILL_TIME_IFSET, FILL_TIME_NEVER)
from ..hl.views import AsStrView, AsTypeView, DatasetView, FieldsView
from . import filters, h5t, h5z, version

__all__ = ["H5pyDeprecationWarning", "filename_decode", "filename_encode", "h5py_class_modules", "h5py_modules"]




def _module(name: str, doc: str, **names) -> types.ModuleType:
    module = types.ModuleType(name, doc)
    module.__dict__.update(names)
    module.__all__ = sorted(n for n in names if not n.startswith("_"))
    return module


def filename_encode(filename) -> bytes:
    """h5py's ``_hl.compat.filename_encode``: a path as the bytes the OS uses."""
    return os.fsencode(os.fspath(filename))


def filename_decode(filename) -> str:
    """h5py's ``_hl.compat.filename_decode``: the inverse of ``filename_encode``."""
    return os.fsdecode(filename)


def _hl_modules() -> dict:
    """``h5py._hl.<name>``: the classes code imports from h5py's high-level modules,
    with the view classes' older ``*Wrapper`` names (h5py < 3.9)."""
    views = dict(AsStrView=AsStrView, AsTypeView=AsTypeView, FieldsView=FieldsView, AbstractView=DatasetView,
                 AsStrWrapper=AsStrView, AstypeWrapper=AsTypeView, AsTypeWrapper=AsTypeView,
                 FieldsWrapper=FieldsView)
    return {
        "dataset": _module("h5py._hl.dataset", "Datasets and their read views.", Dataset=Dataset, **views),
        "files": _module("h5py._hl.files", "Files.", File=File, direct_vfd=False),
        "group": _module("h5py._hl.group", "Groups and links.", Group=Group, ExternalLink=ExternalLink,
                         HardLink=HardLink, SoftLink=SoftLink),
        "base": _module("h5py._hl.base", "The common base of groups, datasets and datatypes.",
                        HLObject=HLObject, Empty=Empty, is_hdf5=is_hdf5, product=math.prod),
        "attrs": _module("h5py._hl.attrs", "Attributes.", AttributeManager=AttributeManager),
        "datatype": _module("h5py._hl.datatype", "Committed datatypes.", Datatype=Datatype),
        "compat": _module("h5py._hl.compat", "Filename encoding.", filename_encode=filename_encode,
                          filename_decode=filename_decode),
    }


def h5py_class_modules() -> dict:
    """``{class: h5py's module of the same class}`` for the handle classes (which pickle
    by their home module, ``hl/pickling.py``; classes pickled by reference keep theirs)."""
    return {File: "h5py._hl.files", Group: "h5py._hl.group", Dataset: "h5py._hl.dataset",
            Datatype: "h5py._hl.datatype"}


def h5py_modules(package: types.ModuleType) -> dict:
    """``{module name: module}`` for ``sys.modules``: ``h5py`` standing for ``package``
    (``dosna_like``) and its submodules."""
    hl = _hl_modules()
    hl_package = _module("h5py._hl", "h5py's high-level classes.", **hl)
    hl_package.__path__ = []
    objects = _module("h5py._objects", "h5py's global lock; dosna_like has none, so any lock will do.",
                      phil=threading.RLock())
    warnings_module = _module("h5py.h5py_warnings", "h5py's warning classes.",
                              H5pyDeprecationWarning=H5pyDeprecationWarning)
    h5 = _module("h5py.h5", "Library configuration (the rest of h5py.h5 is HDF5's).", get_config=get_config)
    h5a = _module("h5py.h5a", "The class of attrs.get_id() (the rest of h5py.h5a is HDF5's).", AttrID=AttrID)
    h5p = _module("h5py.h5p", "Creation-order flags (property lists are HDF5's).",
                  CRT_ORDER_TRACKED=CRT_ORDER_TRACKED, CRT_ORDER_INDEXED=CRT_ORDER_INDEXED)
    h5d = _module("h5py.h5d", "Fill times and layouts, as a dataset's get_create_plist().get_fill_time() and "
                  "get_layout() answer (the rest is HDF5's).",
                  FILL_TIME_ALLOC=FILL_TIME_ALLOC, FILL_TIME_NEVER=FILL_TIME_NEVER, FILL_TIME_IFSET=FILL_TIME_IFSET,
                  COMPACT=COMPACT, CONTIGUOUS=CONTIGUOUS, CHUNKED=CHUNKED)
    h5r = _module("h5py.h5r", "Where h5py defines its reference classes (the rest is HDF5's).",
                  Reference=Reference, RegionReference=RegionReference)
    top = types.ModuleType("h5py", package.__doc__)
    top.__dict__.update({k: v for k, v in vars(package).items() if not k.startswith("__")})
    top.__dict__.update(
        __version__=version.version, __dosna_like_version__=package.__version__, __file__=package.__file__,
        __path__=[], __all__=list(package.__all__), version=version, h5t=h5t, h5z=h5z, h5=h5, h5a=h5a, h5p=h5p, h5d=h5d,
        h5r=h5r, filters=filters, _hl=hl_package, _objects=objects, h5py_warnings=warnings_module,
        __getattr__=lambda name: getattr(package, name),  # names added to dosna_like later
    )
    modules = {"h5py": top, "h5py.version": version, "h5py.h5t": h5t, "h5py.h5z": h5z, "h5py.h5": h5, "h5py.h5a": h5a,
               "h5py.h5p": h5p, "h5py.h5d": h5d, "h5py.h5r": h5r,
               "h5py.filters": filters,
               "h5py._hl": hl_package, "h5py._objects": objects, "h5py.h5py_warnings": warnings_module}
    modules.update({f"h5py._hl.{name}": module for name, module in hl.items()})
    modules["h5py.h5ds"] = package.h5ds  # dimension scales (hl/h5ds.py), as netCDF4-via-h5py code calls them
    return modules

"""``Group``: h5py's group object, a mapping of names to groups and datasets."""
from __future__ import annotations

import contextlib

from collections.abc import MutableMapping

import numpy as np

from ..chunks.selection import select
from ..config import get_config
from ..errors import InvalidNameError, NodeExistsError, NodeNotFoundError, UnsupportedFileOptionError
from ..format.documents import ArrayMeta, group_document
from ..format.links import ExternalLink, HardLink, MAX_LINK_DEPTH, SoftLink, from_record, to_record
from ..format.names import resolve_path
from ..format.references import Reference
from ..format.reserved import RESERVED, edit_reserved
from .anonymous import adopt, is_anonymous, new_path, renamed
from .base import HLObject
from .copying import copy_object, map_references
from .creation import new_array
from .dataset import Dataset
from .datatype import Datatype, datatype_reserved
from .mapping import HDF5Views
from ..index.nodes import select_nodes
from ..index.query import compile_query

__all__ = ["Group"]


class Group(HLObject, HDF5Views, MutableMapping):
    """A group of a dosna_like file, with h5py's ``Group`` API.

    The dict API (``keys``, ``items``, ``get``, ``__contains__``...) comes from
    ``collections.abc.MutableMapping`` as in h5py's ``MutableMappingHDF5``.
    """

    # ------------------------------------------------------------- lookup
    def _wrap(self, state, path: str, doc: dict, name: str | None = None):
        """The one place a stored node becomes a Group or a Dataset handle."""

        if doc["node_type"] == "array":
            cls = Dataset
        else:
            cls = Datatype if "datatype" in state.reserved(path) else Group
        same_file = state is self._state
        return cls(state, path, inherit=self if same_file else None,
                   name=name if same_file and name != "/" + path else None)

    def _locate(self, name, elink_mode: str | None = None):
        """(file state, node path, document) that ``name`` leads to, following links.

        Returns None when nothing is there (a missing member or a dangling link).
        A plain path costs one document read; links are only looked at when
        that read finds nothing.  A name no object can have ('', '..') is not
        there either: h5py raises KeyError for it, as for any missing name.
        """
        try:
            path = resolve_path(self._path, name)
        except InvalidNameError:
            return None
        doc = self._state.read_doc(path)
        if doc is not None:
            return self._state, path, doc
        return _walk(self._state, path.split("/") if path else [], 0, elink_mode)

    def _link_record(self, name):
        """(parent path, member name, link record or None) for the last component of ``name``."""
        path = resolve_path(self._path, name)
        parent, _, base = path.rpartition("/")
        found = _walk(self._state, parent.split("/") if parent else [], 0)
        if found is None or found[0] is not self._state or found[2]["node_type"] != "group":
            return None, base, None
        return found[1], base, self._state.reserved(found[1]).get("links", {}).get(base)

    def __getitem__(self, name):
        self._check_open()
        if isinstance(name, Reference):
            return self._dereference(name)
        found = self._locate(name)
        if found is None:
            raise NodeNotFoundError(f"Unable to open object (object {name!r} doesn't exist)")
        return self._wrap(*found, name="/" + resolve_path(self._path, name))

    def _dereference(self, ref):
        """``group[ref]``: the object a reference names, anywhere in this file (h5py)."""
        if not ref:
            raise ValueError("Invalid HDF5 object reference")
        path = renamed(self._state, ref.path.lstrip("/"))
        found = self._state.file._locate("/" + path)
        if found is None:
            # stored references are paths: a target moved or deleted since is gone
            raise NodeNotFoundError(f"Unable to dereference object (no object at {ref.path!r}: "
                                    "moved or deleted since the reference was made)")
        return self._wrap(*found, name="/" + found[1])

    def get(self, name, default=None, getclass=False, getlink=False, elink_mode=None, elink_locking=None,
            elink_swmr=None):
        """As ``h5py.Group.get``: the object (or its class, or its link) or ``default``.

        ``elink_mode`` ("r", "r+" or None) is checked as h5py does: "r+" from a
        read-only file is a ValueError; external files open with this file's
        intent.  ``elink_locking`` has no effect (stores take no file locks);
        ``elink_swmr=True`` is refused, as SWMR is.
        """
        self._check_open()
        if elink_mode not in (None, "r", "r+"):
            raise ValueError(f"elink_mode must be 'r', 'r+' or None, not {elink_mode!r}")
        if elink_mode == "r+" and self._state.read_only:
            raise ValueError("Unable to open external links read/write from a file opened read-only")
        if elink_swmr:
            raise UnsupportedFileOptionError("SWMR (elink_swmr=True) is not available in dosna_like")
        if getlink:
            parent, base, record = self._link_record(name)
            if record is not None:
                link = from_record(record)
                return type(link) if getclass else link
            if self._locate(name) is None:
                return default
            return HardLink if getclass else HardLink()
        found = self._locate(name, elink_mode)
        if found is None:
            return default
        obj = self._wrap(*found)
        return type(obj) if getclass else obj

    def __contains__(self, name) -> bool:
        """A member is there if its name is, even as a dangling link (as h5py)."""
        try:
            resolve_path(self._path, name)  # an invalid name is not there
        except (TypeError, ValueError):
            return False
        if not self:  # h5py: nothing is in a closed file
            return False
        if self._locate(name) is not None:
            return True
        return self._link_record(name)[2] is not None

    def __iter__(self):
        self._check_open()
        return iter(self._state.children(self._path))

    def __len__(self) -> int:
        self._check_open()
        return len(self._state.children(self._path))

    def __reversed__(self):
        """Member names, last first (h5py's ``reversed(group)``)."""
        self._check_open()
        return iter(list(self._state.children(self._path))[::-1])

    def _ipython_key_completions_(self) -> list:
        """IPython's tab completion of ``group["...``: the member names, sorted (as h5py)."""
        return sorted(self.keys())

    # ----------------------------------------------------------- creation
    def _prepare_new(self, name, action: str) -> str:
        """Path for a new node at ``name``; creates missing intermediate groups.

        A parent reached through a soft link is followed, as HDF5 does.
        """
        self._check_writable(ValueError, f"Unable to create {action}")
        if name is None:  # an anonymous object (hl/anonymous.py)
            path = new_path(self._state)
            for ancestor in (path.rsplit("/", 2)[0], path.rsplit("/", 1)[0]):
                if self._state.read_doc(ancestor) is None:
                    self._state.write_doc(ancestor, group_document())
            return path
        path = resolve_path(self._path, name)
        parent, _, base = path.rpartition("/")
        found = _walk(self._state, parent.split("/") if parent else [], 0)
        if path and found is not None and found[0] is self._state and found[2]["node_type"] == "group":
            # the common case, one walk: what ``name in self`` finds through this parent
            target = f"{found[1]}/{base}" if found[1] else base
            taken = (self._state.read_doc(path) is not None
                     or (target != path and self._state.read_doc(target) is not None)
                     or base in self._state.reserved(found[1]).get("links", {}))
            path = target
        else:
            taken = path == "" or name in self
        if taken:
            raise NodeExistsError(f"Unable to create {action} (name already exists)")
        parts = path.split("/")
        for i in range(1, len(parts)):
            ancestor = "/".join(parts[:i])
            doc = self._state.read_doc(ancestor)
            if doc is None:
                self._state.write_doc(ancestor, group_document())
                self._created(ancestor)  # a member of its parent, in creation order too
            elif doc["node_type"] != "group":
                # h5py's error types differ here: TypeError for datasets, ValueError for groups
                exc = TypeError if action == "dataset" else ValueError
                raise exc(f"Unable to create {action}: {'/' + ancestor!r} is a dataset, not a group")
        return path

    def _created(self, path: str, added: bool = True) -> None:
        """Keep the parent's creation order up to date (``added=False``: removed)."""
        parent, _, base = path.rpartition("/")
        self._state.note_member(parent, base, added=added)

    def create_group(self, name, track_order=None) -> "Group":
        """Create a group (and any missing intermediate groups), as h5py.

        ``track_order=True`` makes the group iterate in creation order.
        """
        path = self._prepare_new(name, "group")
        if track_order is None:
            track_order = get_config().track_order
        self._state.write_doc(path, group_document({RESERVED: {"track_order": True}} if track_order else None))
        if name is not None:
            self._created(path)
        return Group(self._state, path, inherit=self)

    def require_group(self, name) -> "Group":
        """Open the group at ``name``, creating it if missing (TypeError if a dataset is there)."""
        if name not in self:
            return self.create_group(name)
        obj = self[name]
        if not isinstance(obj, Group):
            raise TypeError(f"Incompatible object ({type(obj).__name__}) already exists")
        return obj

    def create_dataset(self, name, shape=None, dtype=None, data=None, *, njobs=None, **kwds):
        """Create a dataset, as ``h5py.Group.create_dataset``; ``njobs`` overrides parallelism.

        ``shards=`` (beyond h5py) stores inner chunks in shards; not given, on object
        storage (S3...) chunks under 1 MiB are sharded by default, ``shards=False``
        opts out (the rule: ``hl/creation.py: new_array``, ``default_shards``).
        """

        text = name.decode() if isinstance(name, bytes) else name
        if isinstance(text, str) and text.endswith("/") and text.strip("/"):  # a group's name, not a dataset's
            # HDF5 makes the groups on the way, then finds the last name empty: h5py leaves them made
            self.require_group(text.rstrip("/"))
            raise ValueError("Unable to synchronously create dataset (name parameter cannot be an empty string)")
        if isinstance(dtype, Datatype):
            dtype = dtype.dtype
        # attribute creation order (h5py's track_order=); HDF5's timestamps have no store counterpart
        track_order = kwds.pop("track_order", None)
        if kwds.pop("track_times", None) not in (None, True, False):
            raise TypeError("track_times must be either True or False")
        meta, values = new_array(shape=shape, dtype=dtype, data=data,
                                 object_storage=self._state.store.object_storage, **kwds)
        refused = values if isinstance(values, Exception) else None  # h5py: made, then its write failed
        values = None if refused is not None else values
        path = self._prepare_new(name, "dataset")
        ds = Dataset(self._state, path, inherit=self)
        ds._njobs = njobs
        doc = meta.to_document()
        if track_order if track_order is not None else get_config().track_order:
            edit_reserved(doc["attributes"], path)["track_order"] = True
        # the layout as it reads back from its document (dtype marks as h5py reports
        # them), built once: the array opened here has it, so write_doc keeps it
        meta = ArrayMeta.from_document(doc, path)
        # chunks first, metadata last: a crash leaves no half-visible dataset
        io = self._state.new_array_io(path, meta)
        if values is not None and values.size:
            sel = select(Ellipsis, meta.shape)
            try:
                io.write(sel, values.reshape(sel.mshape), ds.njobs)
            except BaseException:
                # a failed create leaves no chunks a later dataset of this name would show
                with contextlib.suppress(OSError):
                    self._state.store.delete_prefix(path)
                raise
        self._state.write_doc(path, doc, meta=meta)
        if name is not None:
            self._created(path)
        if refused is not None:
            raise refused
        return ds

    def require_dataset(self, name, shape, dtype, exact=False, **kwds):
        """Open ``name`` if it matches shape and dtype, else create it (h5py semantics)."""
        if name not in self:
            return self.create_dataset(name, shape=shape, dtype=dtype, **kwds)

        dset = self[name]
        if not isinstance(dset, Dataset):
            raise TypeError(f"Incompatible object ({type(dset).__name__}) already exists")
        shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
        if shape != dset.shape:
            if "maxshape" not in kwds:
                raise TypeError(f"Shapes do not match (existing {dset.shape} vs new {shape})")
            if tuple(kwds["maxshape"] or ()) != tuple(dset.maxshape or ()):
                raise TypeError(f"Max shapes do not match (existing {dset.maxshape} vs new {kwds['maxshape']})")
        dtype = np.dtype(dtype)
        if exact:
            if dtype != dset.dtype:
                raise TypeError(f"Datatypes do not exactly match (existing {dset.dtype} vs new {dtype})")
        elif not np.can_cast(dtype, dset.dtype):
            raise TypeError(f"Datatypes cannot be safely cast (existing {dset.dtype} vs new {dtype})")
        return dset

    def __setitem__(self, name, obj) -> None:
        """Add a member, as h5py: an array becomes a dataset; a SoftLink or
        ExternalLink is stored as a link; an existing object of this file gets a
        second name (a hard link).  A taken name raises OSError."""
        self._check_writable(ValueError, "Unable to create link")
        if name in self:
            raise OSError("Unable to create link (name already exists)")
        if isinstance(obj, HLObject):
            if obj._state is not self._state:
                raise OSError("Unable to create link (interfile hard links are not allowed)")
            if obj.name is None and is_anonymous(obj._path):  # its first name: the node moves there
                self._adopt(name, obj)
                return
            self._add_link(name, to_record(None, hard_target="/" + obj._path))
        elif isinstance(obj, (SoftLink, ExternalLink)):
            self._add_link(name, to_record(obj))
        elif isinstance(obj, np.dtype):  # a committed (named) datatype
            path = self._prepare_new(name, "datatype")
            self._state.write_doc(path, group_document({RESERVED: datatype_reserved(obj)}))
            self._created(path)
        else:
            # h5py links the new dataset under the name: a trailing slash is no error here
            text = name.decode() if isinstance(name, bytes) else name
            self.create_dataset(text.rstrip("/") if isinstance(text, str) and text.strip("/") else name, data=obj)

    def _adopt(self, name, obj) -> None:
        target = resolve_path(self._path, name)
        parent = target.rpartition("/")[0]
        if parent:
            self.require_group("/" + parent)
        adopt(self._state, obj._path, target)
        obj._path = target
        self._created(target)

    def _add_link(self, name, record: dict) -> None:
        parent, base, _ = self._link_record(name)
        if parent is None:
            parent = resolve_path(self._path, name).rpartition("/")[0]
            self.require_group("/" + parent)

        def update(reserved: dict) -> None:
            reserved.setdefault("links", {})[base] = record

        self._state.update_reserved(parent, update)
        self._state.note_member(parent, base, added=True)

    def __delitem__(self, name) -> None:
        self._check_writable(KeyError, "Couldn't delete link")
        parent, base, record = self._link_record(name)
        if record is not None:
            self._state.update_reserved(parent, lambda reserved: reserved["links"].pop(base))
            self._state.note_member(parent, base, added=False)
            return
        path = resolve_path(self._path, name)
        if path == "" or self._state.read_doc(path) is None:
            raise NodeNotFoundError(f"Couldn't delete link (object {name!r} doesn't exist)")
        self._state.delete_node(path)
        self._created(path, added=False)

    # ------------------------------------------------------- copy and move
    def copy(self, source, dest, name=None, shallow=False, expand_soft=False, expand_external=False,
             expand_refs=False, without_attrs=False):
        """Copy a group or dataset, as ``h5py.Group.copy``.

        ``source`` is a path relative to this group or an object; ``dest`` a
        path relative to this group or a Group.  Either may belong to another
        file, or to h5py: copying between HDF5 and dosna_like works both ways.
        """
        if isinstance(source, (str, bytes)):
            source = self[source]
        if isinstance(dest, (str, bytes)):
            target = resolve_path(self._path, dest)
            parent, _, base = target.rpartition("/")
            dest = self.file["/" + parent] if parent else self.file
            name = base
        elif not hasattr(dest, "create_group"):
            raise TypeError("Destination must be path or Group object")
        if name is None:
            name = source.name.rstrip("/").rsplit("/", 1)[-1] or "/"
        if name in dest:
            raise RuntimeError("Unable to copy object (destination object already exists)")
        if name == "/":
            raise ValueError("a copy of a root group needs a name")
        copy = copy_object(source, dest, name, shallow=shallow, expand_soft=expand_soft,
                           expand_external=expand_external, without_attrs=without_attrs)
        map_references(source, copy, expand_refs)

    def move(self, source, dest) -> None:
        """Rename a member (a node or a link) within this file, as ``h5py.Group.move``."""
        self._check_writable(ValueError, "Unable to move link")
        if source in self and resolve_path(self._path, source) == resolve_path(self._path, dest):
            return  # h5py: moving a name onto itself does nothing
        if dest in self:
            raise ValueError("Unable to move link (an object with that name already exists)")
        parent, base, record = self._link_record(source)
        if record is not None:
            self._state.update_reserved(parent, lambda reserved: reserved["links"].pop(base))
            self._state.note_member(parent, base, added=False)
            self._add_link(dest, record)
            return
        src = resolve_path(self._path, source)
        if src == "" or self._state.read_doc(src) is None:
            raise ValueError("Unable to move link (name doesn't exist)")
        target = resolve_path(self._path, dest)
        if target == src or target.startswith(src + "/"):
            raise ValueError("Unable to move link (cannot move an object into itself)")
        dest_parent = target.rpartition("/")[0]
        if dest_parent:
            self.require_group("/" + dest_parent)
        self._state.move_node(src, target)
        self._created(src, added=False)
        self._created(target)

    def create_dataset_like(self, name, other, **kwupdate):
        """A new dataset shaped like ``other`` (of either library), as h5py's."""
        opts = {"shape": other.shape, "dtype": other.dtype, "chunks": other.chunks,
                "maxshape": other.maxshape, "fillvalue": other.fillvalue,
                "compression": other.compression, "compression_opts": other.compression_opts,
                "shuffle": getattr(other, "shuffle", None), "shards": getattr(other, "shards", None) or False,
                "scaleoffset": getattr(other, "scaleoffset", None)}
        if tuple(opts["maxshape"] or ()) == tuple(other.shape or ()):
            opts.pop("maxshape")
        opts.update(kwupdate)
        return self.create_dataset(name, **opts)

    # ------------------------------------------------------------- search
    def search(self, query=None, /, **equals) -> list:
        """The Dataset and Group objects below this group that match, sorted by name.

        ``query`` is a dict (see :mod:`dosna_like.index.query`: ``{"temp": {"$gte": 300}}``,
        ``$path``, ``$kind``, ``$ndim``, ``$dtype``, ``$and``/``$or``); keyword
        arguments are attribute equalities (``search(sample="mouse-1")``).
        The file's sidecar index answers: the first search of a session costs
        one check of the index (see :mod:`dosna_like.index.live`), later ones none.
        Committed datatypes come back as Datatype objects.
        """
        predicate = compile_query(query, equals, self._path)
        self._check_open()
        nodes = self._state.index.nodes()
        docs = self._state._docs
        out = []
        for path in select_nodes(nodes, self._path, predicate):
            if is_anonymous(path):
                continue
            docs.setdefault(path, nodes[path].doc)
            out.append(self._wrap(self._state, path, docs[path]))
        return out

    # ------------------------------------------------------------ walking
    def visit(self, func):
        """Call ``func(name)`` for every object below this group, preorder by name.

        As h5py, each object is visited once, by its own name: links are not
        followed (``visit_links`` lists them)."""
        return self.visititems(lambda name, obj: func(name))

    def visititems(self, func):
        """Call ``func(name, obj)`` for every object below; stop at a non-None return."""
        self._check_open()
        return self._visit_into("", self, func, links=False)

    def visit_links(self, func):
        """Call ``func(name)`` for every link below this group, links included, none followed."""
        return self.visititems_links(lambda name, link: func(name))

    def visititems_links(self, func):
        """Call ``func(name, link)`` with h5py's link objects (SoftLink, ExternalLink, HardLink)."""
        self._check_open()
        return self._visit_into("", self, func, links=True)

    def _visit_into(self, prefix: str, group: "Group", func, links: bool):
        records = self._state.reserved(group._path).get("links", {})
        # by name, whatever the creation order (HDF5 visits with its name index, byte order)
        for n in sorted(group, key=lambda name: name.encode("utf-8")):
            rel = f"{prefix}{n}"
            if n in records:
                result = func(rel, from_record(records[n])) if links else None
                if result is not None:
                    return result
                continue
            obj = group[n]
            result = func(rel, HardLink() if links else obj)
            if result is None and isinstance(obj, Group):
                result = self._visit_into(rel + "/", obj, func, links)
            if result is not None:
                return result
        return None

    def __repr__(self) -> str:
        if not self:
            return "<Closed HDF5 group>"
        shown = "(anonymous)" if self.name is None else f'"{self.name}"'
        return f'<HDF5 group {shown} ({len(self)} members)>'


def _walk(state, parts: list, depth: int, elink_mode: str | None = None):
    """Follow ``parts`` from the root of ``state``'s file through groups and links.

    Returns (state, node path, document) or None when something on the way is
    missing or a link dangles (including chains longer than MAX_LINK_DEPTH).
    """
    if depth > MAX_LINK_DEPTH:
        return None
    path = ""
    doc = state.read_doc("")
    for i, part in enumerate(parts):
        if doc is None or doc["node_type"] != "group":
            return None
        child = f"{path}/{part}" if path else part
        child_doc = state.read_doc(child)
        if child_doc is not None:
            path, doc = child, child_doc
            continue
        record = state.reserved(path).get("links", {}).get(part)
        if record is None:
            return None
        if record["type"] == "external":
            try:
                target_state = state.external_file(record["file"], elink_mode)._state
            except PermissionError:
                raise  # a link refused by confinement is an error, not a dangling link
            except OSError:
                return None
        else:
            target_state = state
        target = resolve_path(path if record["type"] == "soft" else "", record["path"])
        found = _walk(target_state, target.split("/") if target else [], depth + 1, elink_mode)
        if found is None:
            return None
        state, path, doc = found
        if i < len(parts) - 1 and doc["node_type"] != "group":
            return None
    return state, path, doc

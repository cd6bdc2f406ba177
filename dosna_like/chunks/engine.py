"""Runs chunk projections against a store: the parallel chunk engine.

Reads fetch the chunks a selection touches (batched, concurrently), decode
them in a pool of ``njobs`` threads and copy each into the output; missing chunks
read as the fill value.  Writes encode in the same pool and store in one
batch; a chunk the selection covers completely is written without being
read first; a chunk equal to the fill value is deleted rather than stored.
Decoded chunks are kept in a per-dataset LRU cache of ``rdcc_nbytes``.
"""
from __future__ import annotations

import threading

import numpy as np

from .cache import ChunkCache
from .direct import DirectIO
from .fill import fill_bits as _fill_bits, is_fill
from .pending import WRITE_BACK_NBYTES, HeldChunks, edge_may_grow, pending_chunks, store_when_dropped
from .plans import flat_bytes as _flat_bytes, scratch as _scratch
from .pools import parallel_map, submitter
from .selection import ChunkProjection, Selection
from ..codecs.pipeline import ChunkCodec
from ..codecs.scaleoffset import scaleoffset_runtime
from ..errors import CorruptChunkError, FormatError
from ..format.documents import ArrayMeta
from ..format.grid import chunk_extent, chunk_local_box, is_cut_by_edge
from ..format.keys import chunk_key, chunk_prefix, parse_chunk_key
from ..format.reserved import node_label, reserved_in

__all__ = ["ArrayIO", "DEFAULT_RDCC_NBYTES", "is_fill"]


DEFAULT_RDCC_NBYTES = 1024 * 1024  # h5py's default chunk cache size


# Writes to one chunk serialise on one of these (striped by store, array and
# chunk): a read-modify-write of a partial chunk must not interleave with
# another thread's.  Never a global lock; reads never take one.
_CHUNK_LOCKS = tuple(threading.Lock() for _ in range(256))


_NO_DEST = object()  # ArrayIO._load: decode anywhere, and do not cache


class ArrayIO(DirectIO, HeldChunks):
    """Chunk I/O for one stored array (shared by every handle of that dataset)."""

    def __init__(self, store, path: str, meta: ArrayMeta, cache_nbytes: int):
        self.store = store
        self.path = path
        self.cache = ChunkCache(cache_nbytes)
        self._lock_salt = hash((getattr(store, "url", None), path))
        self.pending = pending_chunks(store, path)  # held partial chunks, shared by this array's handles
        self.write_back_nbytes = max(WRITE_BACK_NBYTES, cache_nbytes)
        self._stores_when_dropped = None  # made at the first hold
        self.set_meta(meta)

    def chunk_lock(self, coords: tuple) -> threading.Lock:
        """The lock writes of chunk ``coords`` hold (shared by every handle of
        the array in this process)."""
        return _CHUNK_LOCKS[hash((self._lock_salt, coords)) % len(_CHUNK_LOCKS)]

    def _never_stored(self, coords: tuple) -> bool:
        """Whether chunk ``coords`` lies past the shape this array had before it grew
        and was not written since (call with the chunk's lock held)."""
        chunks = self.meta.chunks
        return (any(c * n >= u for c, n, u in zip(coords, chunks, self._unstored_from))
                and coords not in self.pending.stored)

    def _first_write(self, coords: tuple) -> bool:
        """:meth:`_never_stored`, and from now on it may be stored (lock held)."""
        if self._never_stored(coords):
            self.pending.stored.add(coords)
            return True
        return False

    def _load_fresh(self, coords: tuple, raw=None, fetch: bool = True) -> np.ndarray | None:
        """The chunk as stored now, never from the cache: what a read-modify-write
        starts from, so that another handle's or process's write is not undone."""
        if raw is None and fetch:
            raw = self.store.get(self.key(coords))
        return None if raw is None else self._decode(coords, raw)

    def set_meta(self, meta: ArrayMeta) -> None:
        # Chunks wholly past the smallest shape the array has had here are not
        # stored (a shrink deletes them) until this object writes them: a partial
        # write there starts from the fill value instead of a fetch (appends).
        before = getattr(self, "_unstored_from", None)
        same_rank = before is not None and len(before) == len(meta.shape)
        self._unstored_from = tuple(map(min, before, meta.shape)) if same_rank else tuple(meta.shape)
        if before is not None and not same_rank:
            self.pending.stored.clear()  # chunks written past _unstored_from
        self.meta = meta
        try:
            quantize = scaleoffset_runtime(reserved_in(meta.attributes, self.path), meta.dtype, meta.fill_value)
            self.codec = ChunkCodec(meta.codecs, meta.dtype, meta.chunks, quantize)
        except (ValueError, TypeError) as exc:  # a stored codec list nothing here runs: name the node
            raise FormatError(f"{node_label(self.path)}: its codecs cannot be used ({exc})") from exc
        self.fill_bits = _fill_bits(meta.fill_value, meta.dtype)
        self._objects = meta.dtype.kind == "O"
        self._caches_chunks = self.cache.capacity >= self.codec.nbytes
        # Raw chunks on a local store that are too big for the chunk cache (HDF5
        # bypasses its cache for those too) go from their files straight into
        # the output: no intermediate bytes, no copy.
        # So do raw chunks with a checksum after them (the default), when a
        # whole chunk is read, so that the checksum is checked.
        self.reads_direct = self.store.can_read_into and (self.codec.is_raw or self.codec.checked_raw) \
            and not self._caches_chunks

    # ------------------------------------------------------------ decoding
    def key(self, coords: tuple) -> str:
        return chunk_key(self.path, coords)

    def _decode(self, coords: tuple, raw, dest: np.ndarray | None = None, view: bool = False) -> np.ndarray:
        """The chunk array; decoded into ``dest`` (C-contiguous, the chunk's shape)
        when the codec can write there, else into a new array or a view of ``raw``
        (``view``: a read-only view of checksummed raw bytes rather than a copy)."""
        try:
            if not self.codec.decodes_into or (view and self.codec.checked_raw):
                return self.codec.decode(raw)
            if dest is None:
                dest = np.empty(self.meta.chunks, dtype=self.meta.dtype)
            return self.codec.decode_into(raw, dest)
        except Exception as exc:
            raise CorruptChunkError(f"chunk {self.key(coords)!r} cannot be decoded: {exc}") from exc

    def _load(self, coords: tuple, raw=None, fetch: bool = True, dest=None) -> np.ndarray | None:
        """The decoded chunk, or None when it is not stored (reads as fill).

        ``dest`` (optional) is where to decode a chunk the cache will not keep
        (``_NO_DEST``: nowhere in particular, and not kept either).
        """
        chunk = self.cache.get(coords)
        if chunk is None and self.pending:
            chunk = self.pending.snapshot(coords)
        if chunk is not None:
            return chunk
        if raw is None and fetch:
            raw = self.store.get(self.key(coords))
        if raw is None:
            return None
        if self._caches_chunks and dest is None:
            chunk = self._decode(coords, raw)
            if self.codec.is_raw and isinstance(raw, memoryview):
                chunk = chunk.copy()  # a view into a larger buffer (a run of ranges) would keep all of it
            chunk.flags.writeable = False  # shared through the cache
            self.cache.put(coords, chunk)
            return chunk
        dest = None if dest is _NO_DEST else dest
        return self._decode(coords, raw, dest, view=dest is None)

    # ------------------------------------------------ chunks by coordinates
    # For callers that work chunk by chunk rather than by selection (HDF5
    # import and export, DosNa's chunk-level API): they go through here so
    # that the cache never serves a chunk they replaced and a chunk equal to
    # the fill value is not stored (as far as that shows without decoding).
    def get_raw(self, coords: tuple) -> bytes | None:
        """The stored (encoded) bytes of chunk ``coords``, None when it is not stored."""
        self._store_held(coords)
        return self.store.get(self.key(coords))

    def put_raw(self, coords: tuple, raw) -> None:
        """Store already-encoded bytes as chunk ``coords`` (a copy that skips decoding).

        When the codec is raw the bytes are the values, so a chunk equal to the
        fill value is deleted instead, as :meth:`put_chunk` does; compressed
        bytes are stored as they are (telling would mean decoding them).
        """
        key = self.key(coords)
        self.pending.pop(coords)
        if self._raw_is_fill(raw):
            self.store.delete(key)
        else:
            self.store.set(key, raw)
        self.cache.discard(coords)

    def _raw_is_fill(self, raw) -> bool:
        """Whether raw-codec bytes hold nothing but the fill value.  The first
        element is compared first: data seldom starts with the fill value, and
        the full comparison reads every byte (80 us for 2 MiB)."""
        if not self.codec.is_raw or self._objects or len(raw) != self.codec.nbytes:
            return False
        itemsize = self.fill_bits.size
        if bytes(memoryview(raw)[:itemsize]) != self.fill_bits.tobytes():
            return False
        return is_fill(np.frombuffer(raw, dtype=self.meta.dtype), self.fill_bits)

    def get_chunk(self, coords: tuple) -> np.ndarray | None:
        """Chunk ``coords`` decoded, padding included, through the cache; None when
        it is not stored (it reads as the fill value).  Do not change it in place."""
        return self._load(coords)

    def put_chunk(self, coords: tuple, chunk: np.ndarray) -> None:
        """Store a whole chunk (its padding past the array's edge holding the fill
        value); a chunk equal to the fill value is deleted rather than stored."""
        self.pending.pop(coords)
        self._store_one(coords, chunk)

    def put_chunks(self, items: list) -> None:
        """:meth:`put_chunk` for several ``(coords, chunk)`` pairs, stored in one batch."""
        for coords, _ in items:
            self.pending.pop(coords)
        self._store_chunks(items, 1)

    def put_raws(self, items: list) -> None:
        """:meth:`put_raw` for several ``(coords, raw)`` pairs, in one batch (a sharded
        array writes each shard they touch once)."""
        for coords, _ in items:
            self.pending.pop(coords)
        fill = [self.key(c) for c, raw in items if self._raw_is_fill(raw)]
        self.store.delete_many(fill)
        self.store.set_many({self.key(c): raw for c, raw in items if not self._raw_is_fill(raw)})
        for coords, _ in items:
            self.cache.discard(coords)

    def object_groups(self, coords_list) -> list:
        """``coords_list`` cut into groups stored together (one chunk each here;
        a sharded array groups the chunks of one shard), for per-chunk work."""
        return [[coords] for coords in coords_list]

    def has_chunk(self, coords: tuple) -> bool:
        """Whether chunk ``coords`` is stored (one that equals the fill value never is)."""
        self._store_held(coords)
        return self.store.exists(self.key(coords))

    def delete_chunk(self, coords: tuple) -> None:
        """Delete chunk ``coords``: it reads as the fill value again."""
        self.pending.pop(coords)
        self.store.delete(self.key(coords))
        self.cache.discard(coords)

    def delete_all_chunks(self) -> None:
        """Delete every object under the array's chunk prefix: it all reads as the fill value."""
        self.pending.clear()
        prefix = chunk_prefix(self.path)
        keys = [k for k in self.store.list_keys(prefix) if k == prefix or k.startswith(prefix + "/")]
        self.store.delete_many(keys)
        self.cache.clear()

    def stored_chunks(self) -> list:
        """Sorted coordinates of the chunks this array has stored (one listing;
        other keys under its chunk prefix, such as temporary files, are skipped)."""
        return self.stored_objects()

    def stored_objects(self) -> list:
        """Sorted coordinates of the objects stored under the chunk prefix: the
        chunks, or a sharded array's shards (one listing)."""
        self.flush_pending()
        ndim = len(self.meta.shape)
        found = (parse_chunk_key(self.path, key, ndim) for key in self.store.list_keys(chunk_prefix(self.path)))
        return sorted(coords for coords in found if coords is not None)

    # --------------------------------------------------------------- reads
    def read_chunk_part(self, coords: tuple, local: tuple):
        """``chunk[local]`` of one chunk, copied (fill values when it is not stored).

        ``local`` holds ints and unit-step slices; ints drop their axis.
        """
        chunk = self.cache.get(coords)
        if chunk is None and self.pending:
            chunk = self.pending.snapshot(coords)
        if chunk is not None:  # the hot path of small reads
            part = chunk[local]
            if self._objects and not isinstance(part, (np.ndarray, np.generic)):
                return part  # one element of an object array (a str, bytes...)
            return part.copy()
        shape = tuple(s.stop - s.start for s in local if type(s) is slice)
        if self.reads_direct:
            box = tuple(s if type(s) is slice else slice(s, s + 1) for s in local)
            out = np.empty(tuple(s.stop - s.start for s in box), dtype=self.meta.dtype)
            done = self._read_direct(coords, box, out, _flat_bytes(out), tuple(slice(0, n) for n in out.shape))
            if done:
                return out.reshape(shape)[()]
            if done is False:
                return np.full(shape, self.meta.fill_value, dtype=self.meta.dtype)[()]
        chunk = self._load(coords)
        if chunk is None:
            return np.full(shape, self.meta.fill_value, dtype=self.meta.dtype)[()]
        part = chunk[local]
        return part.copy() if isinstance(part, (np.ndarray, np.generic)) else part

    def read(self, sel: Selection, njobs: int, out: np.ndarray | None = None) -> np.ndarray:
        """The selection's values as an array shaped ``sel.shape`` (int axes dropped).

        ``out`` (optional): a C-contiguous array of the dtype, shaped
        ``sel.mshape``, to read into instead of a new array.
        """
        meta = self.meta
        if out is None and sel.size and meta.shape != ():
            hit = None if self.reads_direct else sel.single_chunk(meta.chunks)
            if hit is not None:  # one chunk holds it all: no projections, no pool
                chunk = self._load(hit[0])
                if chunk is None:
                    return np.full(sel.shape, meta.fill_value, dtype=meta.dtype)
                return np.array(chunk[hit[1]], copy=True).reshape(sel.shape)
        if out is None:
            out = np.empty(sel.mshape, dtype=meta.dtype)
        if out.size == 0:
            return out.reshape(sel.shape)
        if meta.shape == ():
            chunk = self._load(())
            out[()] = meta.fill_value if chunk is None else chunk[()]
            return out
        misses = []
        for proj in sel.projections(meta.chunks):
            chunk = self.cache.get(proj.chunk_coords)
            if chunk is None and self.pending:
                chunk = self.pending.snapshot(proj.chunk_coords)
            if chunk is None:
                misses.append(proj)
            else:
                out[proj.out_sel] = chunk[proj.chunk_sel]
        if misses:
            self._read_misses(misses, out, njobs)
        return out.reshape(sel.shape)

    def _keeps(self, projs: list) -> bool:
        """Whether a read of the chunks ``projs`` missed keeps them in the cache: not when
        they are more than it holds (each would only push out the one before, for the
        price of a fresh array and a second copy per chunk)."""
        return self._caches_chunks and len(projs) * self.codec.nbytes <= self.cache.capacity

    def _transient_dest(self, proj: ChunkProjection, out: np.ndarray, keep: bool = False):
        """Where to decode a chunk that the cache will not keep (``keep``: it will; None):
        its own place in ``out`` when it fills a C-contiguous block there (any block,
        for a codec whose last stage writes strided destinations: unshuffle), else
        this thread's scratch buffer (reused, so no page faults of a fresh chunk
        per chunk).  Returns ``(dest, dest is that place in out)``."""
        if keep:
            return None, False
        if not self.codec.decodes_into:
            return _NO_DEST, False
        if proj.complete and all(type(c) is slice and c.step in (None, 1) for c in proj.chunk_sel):
            view = out[proj.out_sel]
            if view.shape == self.meta.chunks and (view.flags.c_contiguous or self.codec.decodes_into_strided):
                return view, True
        if self.codec.checked_raw:  # a view of the checked bytes: one copy into out, not two
            return _NO_DEST, False
        scratch = _scratch(self.codec.nbytes, self.meta.dtype, self.meta.chunks)
        return (_NO_DEST if scratch is None else scratch), False

    def _read_misses(self, projs: list, out: np.ndarray, njobs: int) -> None:
        fill, keep = self.meta.fill_value, self._keeps(projs)
        if self.reads_direct:
            out_flat = _flat_bytes(out)

            def place_direct(proj: ChunkProjection) -> None:
                done = self._read_direct(proj.chunk_coords, proj.chunk_sel, out, out_flat, proj.out_sel)
                if done is None:
                    place(proj)
                elif not done:
                    out[proj.out_sel] = fill

        def place(proj: ChunkProjection, raw=None, fetch=True) -> None:
            dest, in_place = self._transient_dest(proj, out, keep)
            chunk = self._load(proj.chunk_coords, raw, fetch, dest)
            if chunk is None:
                out[proj.out_sel] = fill
            elif not (in_place and chunk is dest):  # else it was decoded into out already
                out[proj.out_sel] = chunk[proj.chunk_sel]

        if not self.store.batches_async:
            # Local and memory stores: fetch + decode + copy per chunk in the pool
            # (raw local chunks: preadv straight into ``out``).
            parallel_map(place_direct if self.reads_direct else place, projs, njobs)
            return
        # Async stores (S3...): io_concurrency GETs in flight until the read is done,
        # each chunk decoded in the pool as its bytes arrive (storage/pipeline.py).
        by_key: dict = {}
        for proj in projs:
            by_key.setdefault(self.key(proj.chunk_coords), []).append(proj)

        def arrived(key, raw) -> None:
            for proj in by_key[key]:
                place(proj, raw, False)

        self.store.get_each(list(by_key), arrived, submitter(njobs))

    # -------------------------------------------------------------- writes
    def write(self, sel: Selection, value: np.ndarray, njobs: int) -> None:
        """Write ``value`` (already converted and shaped ``sel.mshape``) into the selection.

        Each chunk is built, encoded and stored by one worker, so memory holds a
        few chunks per worker rather than a copy of everything written.  A chunk
        the selection covers completely is not read first.
        """
        meta = self.meta
        if meta.shape == ():
            self._store_chunks([((), np.array(value, dtype=meta.dtype).reshape(()))], njobs)
            return
        projs = list(sel.projections(meta.chunks))

        def build(proj: ChunkProjection, old=None, fetch=True):
            if not self._first_write(proj.chunk_coords) and not proj.complete:
                old = self._load_fresh(proj.chunk_coords, old, fetch)
            if old is not None:
                # a chunk decoded just now into an array of its own is changed in place
                # (a read-modify-write of a 4 MiB chunk then copies it once less)
                owned = isinstance(old, np.ndarray) and old.flags.owndata and old.flags.writeable
                chunk = old if owned else old.copy()
            elif proj.complete and not is_cut_by_edge(proj.chunk_coords, meta.chunks, meta.shape):
                chunk = np.empty(meta.chunks, dtype=meta.dtype)
            else:
                chunk = np.full(meta.chunks, meta.fill_value, dtype=meta.dtype)
            chunk[proj.chunk_sel] = value[proj.out_sel]
            return proj.chunk_coords, chunk

        def held_here(proj: ChunkProjection) -> bool:  # see pending.py
            return not proj.complete or edge_may_grow(proj.chunk_coords, meta.chunks, meta.shape, meta.maxshape)

        def write_partial(proj: ChunkProjection) -> None:  # with the chunk's lock held
            coords = proj.chunk_coords
            if self.codec.quantize is not None:  # held chunks would read unquantized until stored
                self._update_one(proj, build)
                return
            held = self.pending.get(coords)
            if held is None and (proj.complete or self._never_stored(coords)):  # nothing to start from
                held = np.full(meta.chunks, meta.fill_value, dtype=meta.dtype)
            if held is None:
                self._update_one(proj, build)
                return
            self.pending.write(coords, held, proj.chunk_sel, value[proj.out_sel])  # stored once (pending.py)
            self._stores_when_dropped = self._stores_when_dropped or store_when_dropped(self)
            self.cache.discard(coords)

        if not self.store.batches_async:
            direct = self.reads_direct and value.flags.c_contiguous
            value_flat = _flat_bytes(value) if direct else None

            def store_one(proj: ChunkProjection) -> None:
                with self.chunk_lock(proj.chunk_coords):
                    if held_here(proj):
                        write_partial(proj)
                        return
                    self.pending.pop(proj.chunk_coords)  # replaced whole
                    if not (direct and self._write_direct(proj, value, value_flat)):
                        self._store_one(*build(proj))

            self._in_bounded_batches(store_one, projs, njobs)
            return
        # Async stores: the whole chunks go through one pipeline, no windows: per
        # chunk, under its lock, built and encoded in the pool and stored,
        # io_concurrency requests in flight throughout.  A partial chunk is one
        # conditional read-modify-write each (S3 If-Match), in the pool, so that
        # another process writing other parts of it loses nothing.
        whole = {self.key(p.chunk_coords): p for p in projs if not held_here(p)}

        def encoded(key, raw):
            self.pending.pop(whole[key].chunk_coords)  # replaced whole
            coords, chunk = build(whole[key], raw, False)
            stored = self._encode(chunk)
            self._remember(coords, chunk, stored)
            return stored

        def update_locked(proj: ChunkProjection) -> None:
            with self.chunk_lock(proj.chunk_coords):
                write_partial(proj)

        try:
            if whole:
                self.store.transform_each(list(whole), encoded, submitter(njobs),
                                          lock_of=lambda key: self.chunk_lock(whole[key].chunk_coords))
            self._in_bounded_batches(update_locked, [p for p in projs if held_here(p)], njobs)
        except BaseException:
            for proj in projs:  # what the cache holds may not have been stored
                self.cache.discard(proj.chunk_coords)
            raise

    def _update_one(self, proj: ChunkProjection, build) -> None:
        """A partial chunk's read-modify-write as one :meth:`Store.update`, so that
        another process writing other parts of the chunk loses nothing (a
        directory lock locally).  A chunk that becomes all fill is stored, not
        deleted: it reads the same."""
        built = {}

        def change(raw):
            coords, chunk = build(proj, raw, False)
            built["chunk"] = chunk
            return self.codec.encode(chunk)

        raw = self.store.update(self.key(proj.chunk_coords), change)
        self._remember(proj.chunk_coords, built["chunk"], raw)

    def _encode(self, chunk: np.ndarray):
        """Stored bytes of a chunk, or None when it equals the fill value (not stored)."""
        return None if is_fill(chunk, self.fill_bits) else self.codec.encode(chunk)

    def _remember(self, coords: tuple, chunk: np.ndarray, raw) -> None:
        if raw is None or self.codec.quantize is not None:  # scaleoffset: the cache would hold unquantized values
            self.cache.discard(coords)
        else:
            chunk.flags.writeable = False
            self.cache.put(coords, chunk)

    def _store_one(self, coords: tuple, chunk: np.ndarray) -> None:
        # a raw chunk on a local disk goes from the array itself: no bytes copy of it
        direct = self.reads_direct and chunk.flags.c_contiguous and not is_fill(chunk, self.fill_bits)
        raw = True if direct else self._encode(chunk)
        if direct:
            self._write_from(coords, [(0, [_flat_bytes(chunk)])])
        elif raw is None:
            self.store.delete(self.key(coords))
        else:
            self.store.set(self.key(coords), raw)
        self._remember(coords, chunk, raw)

    def _store_chunks(self, chunks: list, njobs: int) -> None:
        """Encode (coords, chunk) pairs in the pool, then store them in one batch."""
        encoded = parallel_map(lambda item: (*item, self._encode(item[1])), chunks, njobs)
        self.store.set_many({self.key(c): raw for c, _, raw in encoded if raw is not None})
        self.store.delete_many([self.key(c) for c, _, raw in encoded if raw is None])
        for coords, chunk, raw in encoded:
            self._remember(coords, chunk, raw)

    def drop_outside(self, new_shape: tuple) -> None:
        """Before a shrink: delete chunks outside ``new_shape`` and blank the cut parts."""
        meta = self.meta
        doomed, trimmed = [], []
        for coords in self.stored_chunks():
            if not all(chunk_extent(coords, meta.chunks, new_shape)):  # nothing of it is left
                doomed.append(coords)
            elif is_cut_by_edge(coords, meta.chunks, new_shape):
                trimmed.append(coords)
        self.store.delete_many([self.key(c) for c in doomed])
        for c in doomed:
            self.cache.discard(c)
        rewritten = []
        for coords in trimmed:
            chunk = self._load(coords)
            if chunk is None:
                continue
            keep = chunk_local_box(coords, meta.chunks, new_shape)
            blank = np.full(meta.chunks, meta.fill_value, dtype=meta.dtype)
            blank[keep] = chunk[keep]
            rewritten.append((coords, blank))
        self._store_chunks(rewritten, 1)

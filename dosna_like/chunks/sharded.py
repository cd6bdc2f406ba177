"""Chunk I/O for sharded arrays (Zarr v3 ``sharding_indexed``).

The engine's selection, cache and decode paths work on inner chunks as they
do on plain chunks; what changes is where a chunk's bytes are.  Reads fetch
each touched shard's index once (a ranged GET of its head or tail, then kept
per shard in a bounded cache) and then only the byte ranges of the inner
chunks the selection needs, one request per contiguous run, all of a window
in one concurrent batch, decoded in the pool; a shard with no cached index
of which half the chunks are wanted is fetched whole in one GET instead
(on async stores through the fetch pipeline: decoded as each shard arrives,
no window waiting for its slowest shard).  Writes work shard by shard
under the shard's write lock: a shard the selection covers completely is
built and stored in one PUT without being read; any other shard is read
whole, its untouched inner chunks kept as they are (no re-encoding), the
touched ones rebuilt, and the shard stored again by a conditional update
(``Store.update``), so no concurrent update of it is lost, from this process
or another (dask workers storing their blocks into one shard).  Memory is bounded by windows of about ``WINDOW_NBYTES``.

A cached index goes stale when another process (or another ``File`` handle)
rewrites that shard.  What is caught: a range that comes back short, and an
inner chunk that fails to decode (its crc32c, which the library adds to every
chunk by default, or a compressor's framing), make the shard's index be read
again once and the chunk fetched again; only a failure with a fresh index is
an error.  The guarantee is therefore "right or an error" for shards whose
inner chunks carry a checksum.  Inner chunks with none (``checksum=False``,
or another tool's shards) whose stale index still points at ranges that
exist and decode can return the old index's bytes: ``Dataset.refresh()``
(h5py's SWMR call) drops the cached indexes; checking each read would cost
a request per read; an inner chunk a kept index lists as not stored reads
as the fill value until then.  Like the decoded-chunk cache, a kept index
follows this handle's own writes.
"""
from __future__ import annotations

import contextlib
import math
import threading
from collections import OrderedDict

import numpy as np

from .engine import ArrayIO
from .pools import parallel_map, submitter
from ..codecs.sharding import ShardIndex, assemble_shard, index_nbytes
from ..errors import CorruptChunkError
from ..format.documents import ArrayMeta
from ..format.grid import chunk_extent, chunk_local_box, grid_shape, is_cut_by_edge
from ..format.keys import chunk_key

__all__ = ["INDEX_CACHE_ENTRIES", "MAX_GAP_NBYTES", "MAX_RUN_NBYTES", "ShardedArrayIO", "WINDOW_NBYTES", "open_array_io"]

WINDOW_NBYTES = 128 * 2**20  # decoded bytes of inner chunks handled per batch
MAX_RUN_NBYTES = 8 * 2**20  # longer runs are split so that several requests are in flight
MAX_GAP_NBYTES = 32 * 2**10  # a gap this small between two wanted chunks is read rather than split at
INDEX_CACHE_ENTRIES = 2**20  # inner chunks whose (offset, nbytes) the index cache keeps (16 MiB)


def open_array_io(store, path: str, meta: ArrayMeta, cache_nbytes: int) -> ArrayIO:
    """The chunk I/O object for an array: sharded or not, as its metadata says."""
    cls = ArrayIO if meta.sharding is None else ShardedArrayIO
    return cls(store, path, meta, cache_nbytes)


class _IndexCache:
    """Decoded shard indexes by shard coordinates, least recently used first out."""

    def __init__(self, capacity: int):
        self.capacity = capacity
        self._items: OrderedDict = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()

    def get(self, shard: tuple) -> ShardIndex | None:
        with self._lock:
            index = self._items.get(shard)
            if index is not None:
                self._items.move_to_end(shard)
            return index

    def put(self, shard: tuple, index: ShardIndex | None) -> None:
        with self._lock:
            old = self._items.pop(shard, None)
            if old is not None:
                self._size -= old.nbytes.size
            if index is None:
                return
            self._items[shard] = index
            self._size += index.nbytes.size
            while self._size > self.capacity and len(self._items) > 1:
                _, dropped = self._items.popitem(last=False)
                self._size -= dropped.nbytes.size

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._size = 0


class ShardedArrayIO(ArrayIO):
    """:class:`ArrayIO` of a sharded array: ``coords`` everywhere are inner chunk coordinates."""

    def set_meta(self, meta: ArrayMeta) -> None:
        super().set_meta(meta)
        self.spec = meta.sharding
        self.cps = self.spec.chunks_per_shard(meta.chunks)
        self.index_nbytes = index_nbytes(self.spec, meta.chunks)
        self.reads_direct = False  # inner chunks are ranges of a shard, not files
        self._indexes = _IndexCache(INDEX_CACHE_ENTRIES)
        self._chunks_per_shard = math.prod(self.cps)

    # ------------------------------------------------------------ addresses
    def shard_of(self, coords: tuple) -> tuple:
        """``(shard coordinates, flat position in the shard)`` of inner chunk ``coords``."""
        shard, flat = [], 0
        for c, n in zip(coords, self.cps):
            shard.append(c // n)
            flat = flat * n + c % n
        return tuple(shard), flat

    def inner_coords(self, shard: tuple, flat: int) -> tuple:
        local = np.unravel_index(flat, self.cps) if self.cps else ()
        return tuple(int(s * n + i) for s, n, i in zip(shard, self.cps, local))

    def shard_key(self, shard: tuple) -> str:
        return chunk_key(self.path, shard)

    def key(self, coords: tuple) -> str:
        shard, flat = self.shard_of(coords)
        return f"{self.shard_key(shard)} (inner chunk {flat})"

    def _shard_chunks_in_bounds(self, shard: tuple) -> int:
        """How many inner chunks of ``shard`` hold part of the array."""
        grid = grid_shape(self.meta.shape, self.meta.chunks)
        return math.prod(max(0, min(n, g - s * n)) for s, n, g in zip(shard, self.cps, grid))

    # --------------------------------------------------------------- indexes
    def _index_range(self, shard: tuple) -> tuple:
        if self.spec.index_location == "end":
            return self.shard_key(shard), -self.index_nbytes, None
        return self.shard_key(shard), 0, self.index_nbytes

    def _decode_index(self, shard: tuple, raw, shard_nbytes: int | None = None) -> ShardIndex:
        try:
            return ShardIndex.decode(raw, self.spec, self.meta.chunks, shard_nbytes)
        except (ValueError, RuntimeError) as exc:  # numcodecs' crc32c raises RuntimeError
            raise CorruptChunkError(f"shard {self.shard_key(shard)!r}: index cannot be decoded: {exc}") from exc

    def _indexes_of(self, shards, refresh: bool = False) -> dict:
        """{shard: ShardIndex or None (not stored)}: cached ones, the rest in one batch."""
        found, wanted = {}, []
        for shard in shards:
            index = None if refresh else self._indexes.get(shard)
            if index is None:
                wanted.append(shard)
            else:
                found[shard] = index
        raws = self.store.get_ranges([self._index_range(s) for s in wanted])
        for shard, raw in zip(wanted, raws):
            index = None if raw is None else self._decode_index(shard, raw)
            self._indexes.put(shard, index)
            found[shard] = index
        return found

    def _parts_of(self, shard: tuple, raw) -> dict:
        """{flat position: encoded bytes} of a whole stored shard (empty for None)."""
        if raw is None:
            return {}
        view = memoryview(raw).cast("B")
        n = self.index_nbytes
        head = view[-n:] if self.spec.index_location == "end" else view[:n]
        index = self._decode_index(shard, head if len(view) >= n else view, len(view))
        self._indexes.put(shard, index)
        return {i: view[span[0]:span[1]] for i in range(index.nbytes.size)
                if (span := index.span(i)) is not None}

    # ----------------------------------------------------------------- reads
    def _fetch_whole(self, shard: tuple, wanted: int, cached_index_counts: bool = True) -> bool:
        """A shard whose index is not cached and half of whose chunks are wanted:
        one GET of the whole shard beats an index read and then the ranges."""
        return 2 * wanted >= self._shard_chunks_in_bounds(shard) and \
            (not cached_index_counts or self._indexes.get(shard) is None)

    def _fetch_inner(self, coords_list, retry: bool = True) -> dict:
        """{coords: encoded bytes} of the stored ones among inner chunks ``coords_list``."""
        by_shard: dict = {}
        for coords in coords_list:
            shard, flat = self.shard_of(coords)
            by_shard.setdefault(shard, []).append((flat, coords))
        out = {}
        whole = [s for s, items in by_shard.items() if self._fetch_whole(s, len(items), retry)]
        raws = self.store.get_many([self.shard_key(s) for s in whole])
        for shard in whole:
            parts = self._parts_of(shard, raws.get(self.shard_key(shard)))
            for flat, coords in by_shard.pop(shard):
                if flat in parts:
                    out[coords] = parts[flat]
        indexes = self._indexes_of(by_shard, refresh=not retry)
        requests, members = [], []
        for shard, items in by_shard.items():
            index = indexes[shard]
            if index is None:
                continue
            spans = sorted((span, coords) for flat, coords in items if (span := index.span(flat)) is not None)
            run: list = []
            for (start, stop), coords in spans:
                if run and (start - run[-1][2] > MAX_GAP_NBYTES or stop - run[0][1] > MAX_RUN_NBYTES
                            or start < run[-1][2]):
                    requests.append((self.shard_key(shard), run[0][1], run[-1][2]))
                    members.append((shard, run))
                    run = []
                run.append((coords, start, stop))
            if run:
                requests.append((self.shard_key(shard), run[0][1], run[-1][2]))
                members.append((shard, run))
        stale = set()
        for (_, first, last), raw, (shard, run) in zip(requests, self.store.get_ranges(requests), members):
            if raw is None or len(raw) != last - first:
                stale.add(shard)
                continue
            view = memoryview(raw)
            for coords, start, stop in run:
                out[coords] = view[start - first:stop - first]
        if stale:
            if not retry:
                raise CorruptChunkError(f"shard {self.shard_key(min(stale))!r} is shorter than its index says")
            again = [c for s in stale for _, c in by_shard[s]]
            out.update(self._fetch_inner(again, retry=False))
        return out

    def _refetch(self, coords_list) -> dict:
        """:meth:`_fetch_inner` with each shard's index read again (a cached one may
        be stale: another writer rewrote the shard)."""
        return self._fetch_inner(coords_list, retry=False)

    def _load(self, coords: tuple, raw=None, fetch: bool = True, dest=None):
        if raw is None and fetch and self.cache.get(coords) is None:
            raw = self._fetch_inner([coords]).get(coords)
            try:
                return super()._load(coords, raw, False, dest)
            except CorruptChunkError:  # through a stale index? once more with a fresh one
                return super()._load(coords, self._refetch([coords]).get(coords), False, dest)
        return super()._load(coords, raw, False, dest)

    def _load_fresh(self, coords: tuple, raw=None, fetch: bool = True):
        if raw is None and fetch:
            raw = self._fetch_inner([coords]).get(coords)
            try:
                return None if raw is None else self._decode(coords, raw)
            except CorruptChunkError:
                raw = self._refetch([coords]).get(coords)
        return None if raw is None else self._decode(coords, raw)

    def _window_len(self, njobs: int) -> int:
        return max(self.store.io_concurrency, 4 * njobs, WINDOW_NBYTES // max(1, self.codec.nbytes))

    def _read_misses(self, projs: list, out: np.ndarray, njobs: int) -> None:
        fill, keep = self.meta.fill_value, self._keeps(projs)
        projs = sorted(projs, key=lambda p: self.shard_of(p.chunk_coords))  # a shard's chunks together

        def place(proj, raw) -> None:
            dest, in_place = self._transient_dest(proj, out, keep)
            chunk = self._load(proj.chunk_coords, raw, False, dest)
            if chunk is None:
                out[proj.out_sel] = fill
            elif not (in_place and chunk is dest):
                out[proj.out_sel] = chunk[proj.chunk_sel]

        def first_try(proj, raw):
            try:
                place(proj, raw)
            except CorruptChunkError:
                return proj  # maybe through a stale index: tried again below
            return None

        failed: list = []
        if self.store.batches_async:
            projs = self._read_whole_shards(projs, first_try, failed.append, njobs)
        step = self._window_len(njobs)
        for i in range(0, len(projs), step):
            batch = projs[i:i + step]
            raws = self._fetch_inner([p.chunk_coords for p in batch])
            failed += [p for p in parallel_map(lambda p: first_try(p, raws.get(p.chunk_coords)), batch, njobs)
                       if p is not None]
        if failed:  # the shards' indexes read again, the chunks fetched again: an error now is one
            raws = self._refetch([p.chunk_coords for p in failed])
            parallel_map(lambda p: place(p, raws.get(p.chunk_coords)), failed, njobs)

    def _read_whole_shards(self, projs: list, first_try, failed, njobs: int) -> list:
        """Read the shards that :meth:`_fetch_whole` picks through the store's fetch
        pipeline: ``io_concurrency`` whole-shard GETs in flight until the read is done,
        each shard's inner chunks decoded in a worker as soon as its bytes arrive (no
        window waiting for its slowest shard, no fetching idle while a window decodes).
        ``first_try(proj, raw)`` places a chunk, returning it when it needs the
        retry with a fresh index (handed to ``failed``).  Returns the other projections.

        At least ``njobs`` such shards, else one worker per shard would leave threads idle
        (the windows then decode chunk by chunk in every thread)."""
        groups: dict = {}
        for proj in projs:
            groups.setdefault(self.shard_of(proj.chunk_coords)[0], []).append(proj)
        whole = {self.shard_key(s): s for s, ps in groups.items() if self._fetch_whole(s, len(ps))}
        if len(whole) < max(2, njobs):
            return projs

        def arrived(key, raw) -> None:
            shard = whole[key]
            parts = self._parts_of(shard, raw)
            for proj in groups[shard]:
                if (retry := first_try(proj, parts.get(self.shard_of(proj.chunk_coords)[1]))) is not None:
                    failed(retry)

        # fetched shards waiting for a worker: about WINDOW_NBYTES of inner chunks
        room = max(2, WINDOW_NBYTES // max(1, self._chunks_per_shard * self.codec.nbytes))
        self.store.get_each(list(whole), arrived, submitter(njobs), room=room)
        return [p for s, ps in groups.items() if self.shard_key(s) not in whole for p in ps]

    # ---------------------------------------------------------------- writes
    @contextlib.contextmanager
    def _chunk_locks(self, coords_list):
        """Hold the write locks of several shards, taken in one order (no deadlock)."""
        locks = sorted({id(lk): lk for lk in map(self.chunk_lock, coords_list)}.items(), key=lambda item: item[0])
        with contextlib.ExitStack() as stack:
            for _, lk in locks:
                stack.enter_context(lk)
            yield

    def _shard_windows(self, shards: list, weights: dict, njobs: int):
        """Shards in groups of about WINDOW_NBYTES of inner chunks (``weights``: chunks per shard)."""
        step = self._window_len(njobs)
        window, size = [], 0
        for shard in shards:
            window.append(shard)
            size += weights[shard]
            if size >= step:
                yield window
                window, size = [], 0
        if window:
            yield window

    def _commit(self, window: list, parts: dict) -> None:
        """Store the shards of ``window`` from their ``parts`` (one batch of PUTs;
        a shard left with no inner chunk is deleted) and keep their indexes."""
        built = {s: assemble_shard(parts[s], self.spec, self.meta.chunks) for s in window}
        self.store.set_many({self.shard_key(s): raw for s, (raw, _) in built.items() if raw is not None})
        self.store.delete_many([self.shard_key(s) for s, (raw, _) in built.items() if raw is None])
        for shard, (_, index) in built.items():
            self._indexes.put(shard, index)

    def _rewrite(self, shards: list, edit, njobs: int = 1, weights: dict | None = None,
                 whole: set = frozenset()) -> None:
        """Read-modify-write shards under their locks: ``edit(window, parts)``
        changes ``parts`` ({shard: {flat: bytes}}) in place; shards in
        ``whole`` are replaced entirely and not read first.

        Each other shard is a conditional update of the store (``Store.update``:
        If-Match on S3, a directory lock locally), so two processes writing
        different inner chunks of one shard (dask workers storing their blocks)
        lose nothing; ``edit`` is then run again on the other writer's shard."""
        weights = weights or dict.fromkeys(shards, self._chunks_per_shard)
        for window in self._shard_windows(shards, weights, njobs):
            with self._chunk_locks(window):
                full = [s for s in window if s in whole]
                if full:
                    parts = {s: {} for s in full}
                    edit(full, parts)
                    self._commit(full, parts)
                for shard in (s for s in window if s not in whole):
                    self._update_shard(shard, edit)

    def _update_shard(self, shard: tuple, edit) -> None:
        """One partial shard's conditional read-modify-write (see :meth:`_rewrite`)."""
        built = {}

        def change(raw):
            parts = {shard: self._parts_of(shard, raw)}
            edit([shard], parts)
            # a shard left with no inner chunk stays as an index listing none (deleting
            # it after the update could delete another process's write in between)
            shard_raw, built["index"] = assemble_shard(parts[shard], self.spec, self.meta.chunks, keep_empty=True)
            return shard_raw

        self.store.update(self.shard_key(shard), change)
        self._indexes.put(shard, built["index"])

    def write(self, sel, value: np.ndarray, njobs: int) -> None:
        meta = self.meta
        if meta.shape == ():
            self._store_chunks([((), np.array(value, dtype=meta.dtype).reshape(()))], njobs)
            return
        groups: dict = {}
        for proj in sel.projections(meta.chunks):
            groups.setdefault(self.shard_of(proj.chunk_coords)[0], []).append(proj)
        whole = {s for s, ps in groups.items()
                 if len(ps) == self._shard_chunks_in_bounds(s) and all(p.complete for p in ps)}

        def edit(window: list, parts: dict) -> None:
            def build(item):
                shard, proj = item
                flat = self.shard_of(proj.chunk_coords)[1]
                old = None if proj.complete else parts[shard].get(flat)
                if old is not None:
                    chunk = self._decode(proj.chunk_coords, old).copy()
                elif proj.complete and not is_cut_by_edge(proj.chunk_coords, meta.chunks, meta.shape):
                    chunk = np.empty(meta.chunks, dtype=meta.dtype)
                else:
                    chunk = np.full(meta.chunks, meta.fill_value, dtype=meta.dtype)
                chunk[proj.chunk_sel] = value[proj.out_sel]
                return shard, flat, proj.chunk_coords, chunk, self._encode(chunk)

            built = parallel_map(build, [(s, p) for s in window for p in groups[s]], njobs)
            for shard, flat, coords, chunk, raw in built:
                if raw is None:
                    parts[shard].pop(flat, None)
                else:
                    parts[shard][flat] = raw
                self._remember(coords, chunk, raw)

        self._rewrite(list(groups), edit, njobs, {s: len(ps) for s, ps in groups.items()}, whole)

    def _edit_chunks(self, changes: dict, njobs: int = 1) -> None:
        """Store ``changes`` ({inner coords: encoded bytes, or None to delete})."""
        by_shard: dict = {}
        for coords, raw in changes.items():
            shard, flat = self.shard_of(coords)
            by_shard.setdefault(shard, {})[flat] = raw

        def edit(window: list, parts: dict) -> None:
            for shard in window:
                for flat, raw in by_shard[shard].items():
                    if raw is None:
                        parts[shard].pop(flat, None)
                    else:
                        parts[shard][flat] = raw

        self._rewrite(list(by_shard), edit, njobs)
        for coords in changes:
            self.cache.discard(coords)

    def _store_one(self, coords: tuple, chunk: np.ndarray) -> None:
        raw = self._encode(chunk)
        self._edit_chunks({coords: raw})
        self._remember(coords, chunk, raw)

    def _store_chunks(self, chunks: list, njobs: int) -> None:
        encoded = parallel_map(lambda item: (*item, self._encode(item[1])), chunks, njobs)
        self._edit_chunks({c: raw for c, _, raw in encoded}, njobs)
        for coords, chunk, raw in encoded:
            self._remember(coords, chunk, raw)

    # ------------------------------------------------ chunks by coordinates
    def object_groups(self, coords_list) -> list:
        groups: dict = {}
        for coords in coords_list:
            groups.setdefault(self.shard_of(coords)[0], []).append(coords)
        return list(groups.values())

    def get_raw(self, coords: tuple) -> bytes | None:
        raw = self._fetch_inner([coords]).get(coords)
        return None if raw is None else bytes(raw)

    def put_raw(self, coords: tuple, raw) -> None:
        self.put_raws([(coords, raw)])

    def put_raws(self, items: list) -> None:
        # one read-modify-write per shard, not one per inner chunk
        self._edit_chunks({coords: None if self._raw_is_fill(raw) else bytes(raw) for coords, raw in items})

    def has_chunk(self, coords: tuple) -> bool:
        shard, flat = self.shard_of(coords)
        index = self._indexes_of([shard])[shard]
        return index is not None and index.span(flat) is not None

    def delete_chunk(self, coords: tuple) -> None:
        self._edit_chunks({coords: None})

    def delete_all_chunks(self) -> None:
        super().delete_all_chunks()
        self._indexes.clear()

    def stored_chunks(self) -> list:
        """Sorted coordinates of the inner chunks stored (one listing, one index read per shard)."""
        shards = self.stored_objects()
        indexes = self._indexes_of(shards)
        found = []
        for shard in shards:
            index = indexes[shard]
            if index is not None:
                found.extend(self.inner_coords(shard, int(i)) for i in np.flatnonzero(index.nbytes >= 0))
        return sorted(found)

    def drop_outside(self, new_shape: tuple) -> None:
        meta = self.meta

        def edit(window: list, parts: dict) -> None:
            for shard in window:
                for flat in list(parts[shard]):
                    coords = self.inner_coords(shard, flat)
                    if not all(chunk_extent(coords, meta.chunks, new_shape)):
                        del parts[shard][flat]
                    elif is_cut_by_edge(coords, meta.chunks, new_shape):
                        keep = chunk_local_box(coords, meta.chunks, new_shape)
                        blank = np.full(meta.chunks, meta.fill_value, dtype=meta.dtype)
                        blank[keep] = self._decode(coords, parts[shard][flat])[keep]
                        raw = self._encode(blank)
                        if raw is None:
                            del parts[shard][flat]
                        else:
                            parts[shard][flat] = raw
                    self.cache.discard(coords)

        self._rewrite(self.stored_objects(), edit)

"""A local directory as a store: plain ``os`` calls, no fsspec on any path.

Why not fsspec's LocalFileSystem: reading a raw chunk straight into the
caller's array with ``preadv`` (and writing one from it with ``pwritev``)
saves a copy per chunk, which is what lets uncompressed reads match HDF5;
fsspec has no such call.  Writes go to a temporary file renamed over the
key, so a reader never sees half a chunk.  Node documents are fingerprinted
by ``stat`` (size, mtime, inode): one ``scandir`` per group, no read.

Crash safety (a writer killed at any point): a temporary file is named
``<key>.<pid>-<random>.partial`` and is always a file, while every node is a
directory, so listings tell them apart by kind and never by name (a user may
name a group ``x.partial``); a directory's leftovers of dead writers are
removed the first time this store writes there.  A node is deleted document
first, so a kill halfway leaves only unreachable leftovers, which the next
node created under that name clears.  The whole store (``File(path, "w")``)
is emptied by swapping the root directory with an empty one in one
``renameat2(RENAME_EXCHANGE)``: the root is the old store or an empty one,
never a wedged half.
"""
from __future__ import annotations

import ctypes
import errno
import fcntl
import os
import itertools
import shutil
import uuid

from ..format.keys import META_KEY, SIDE_KEY
from .base import REPLACING_ROOT, KindsOf, OfferDocument, Store, node_fingerprint

__all__ = ["LocalStore", "remove_dead_temporaries"]

_HAS_VECTORED_IO = hasattr(os, "preadv") and hasattr(os, "pwritev")
_IOV_MAX = 1024  # Linux's limit on buffers per preadv call
_MISSING = (FileNotFoundError, IsADirectoryError, NotADirectoryError)
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


def _symlink_refusal(exc: OSError, url: str, key: str) -> OSError:
    """ELOOP from O_NOFOLLOW: the object is a symlink, which a store never follows."""
    if exc.errno == errno.ELOOP:
        return PermissionError(f"{url}: {key!r} is a symlink; stores never follow one")
    return exc


def _vectored_all(call, fd: int, buffers: list, offset: int) -> None:
    """Run ``call`` (``os.preadv`` or ``os.pwritev``) until every buffer is
    done, resuming after short transfers; ValueError if one makes no progress."""
    buffers = list(buffers)
    i = 0
    while i < len(buffers):
        done = call(fd, buffers[i:i + _IOV_MAX], offset)
        if done <= 0:
            raise ValueError("file ended early" if call is os.preadv else "nothing written")
        offset += done
        while i < len(buffers) and done >= len(buffers[i]):
            done -= len(buffers[i])
            i += 1
        if done:
            buffers[i] = buffers[i][done:]


_TEMP_SUFFIX = ".partial"
# threads writing a batch of objects (a flush's documents): about one per processor
_WRITE_THREADS = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
_TRASH_SUFFIX = ".dosna-trash"  # a swapped-out store root, beside the root, being removed
_RENAME_EXCHANGE = 2  # linux/fs.h


def _load_renameat2():
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        call = libc.renameat2
    except (OSError, AttributeError):
        return None
    call.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    return call


_renameat2 = _load_renameat2()


def _exchange(a: str, b: str) -> bool:
    """Swap two paths atomically (Linux renameat2); False where the system cannot."""
    if _renameat2 is None:
        return False
    at_fdcwd = -100
    if _renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.EPERM, errno.EXDEV, errno.ENOTSUP):
        return False
    raise OSError(code, os.strerror(code), a)


def _writer_alive(name: str) -> bool:
    """Whether the temporary file ``name`` may still be in use: its writer's
    process (``.<pid>-<random>.partial``) still runs, or it is not ours to judge."""
    tag = name[:-len(_TEMP_SUFFIX)].rpartition(".")[2]
    pid, dash, _ = tag.partition("-")
    if not dash or not pid.isdigit():
        return False  # the previous naming (no pid): from a writer long gone
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's live process
    return True


class _TempNames:
    """``<path>.<pid>-<16 hex>.partial`` names, unique per process without a
    system call each: a random prefix drawn per process (again in a forked
    child) and a counter.  (``uuid4`` asked the kernel for random bytes per
    object written.)"""

    def __init__(self):
        self.renew()
        os.register_at_fork(after_in_child=self.renew)

    def renew(self) -> None:
        self.pid = os.getpid()
        self.prefix = os.urandom(4).hex()
        self.counter = itertools.count()

    def __call__(self, path: str) -> str:
        return f"{path}.{self.pid}-{self.prefix}{next(self.counter) % 2**32:08x}{_TEMP_SUFFIX}"


_temp_name = _TempNames()


def _write_all(fd: int, value) -> None:
    """Write every byte of ``value`` (any buffer) to ``fd``, resuming after short writes."""
    view = memoryview(value)
    if view.ndim != 1 or view.itemsize != 1:
        view = view.cast("B")
    while view:
        done = os.write(fd, view)
        if done <= 0:
            raise OSError(errno.EIO, "nothing written")
        view = view[done:]


def remove_dead_temporaries(folder: str) -> int:
    """Remove the temporary files of dead writers in ``folder`` (not below); how many."""
    removed = 0
    try:
        with os.scandir(folder) as entries:
            doomed = [e.path for e in entries
                      if e.name.endswith(_TEMP_SUFFIX) and e.is_file(follow_symlinks=False)
                      and not _writer_alive(e.name)]
    except (FileNotFoundError, NotADirectoryError):
        return 0
    for path in doomed:
        try:
            os.remove(path)
            removed += 1
        except FileNotFoundError:
            pass
    return removed


def _stat_fingerprint(st: os.stat_result) -> str:
    return f"{st.st_size}-{st.st_mtime_ns}-{st.st_ino}"


def _remove_quietly(path: str) -> None:
    try:
        os.remove(path)
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        pass


def _trash_beside(parent: str, name: str) -> list:
    """Swapped-out roots of the store ``name`` left in ``parent`` by a killed writer."""
    head = f".{name}."
    try:
        with os.scandir(parent or ".") as entries:
            return [e.path for e in entries if e.name.startswith(head) and e.name.endswith(_TRASH_SUFFIX)
                    and e.is_dir(follow_symlinks=False)]
    except OSError:
        return []


class LocalStore(Store):
    """A directory on a local filesystem (paths and ``file://`` URLs)."""

    can_read_into = _HAS_VECTORED_IO
    server_side_copy = True  # a rename, in fact: moves never copy
    fingerprint_kind = "stat"
    serves_chains = False

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._made_dirs: set = set()  # parents known to exist: one makedirs per directory
        self._inside: set = set()  # directories checked to resolve inside the root

    def _derive(self, root: str, url: str) -> Store:
        other = super()._derive(root, url)
        other._made_dirs = set()
        other._inside = set()
        return other

    def _confined(self, key: str) -> str:
        """``self.path(key)``, refused (PermissionError) when its directory
        resolves outside the store root through a symlink.  Each directory is
        checked once; the object itself is opened with O_NOFOLLOW."""
        path = self.path(key)
        folder = os.path.dirname(path)
        if folder not in self._inside and not self._resolves_inside(folder):
            raise PermissionError(f"{self.url}: {key!r} leads out of the store through a symlink")
        return path

    def _resolves_inside(self, folder: str) -> bool:
        """Whether ``folder`` resolves inside the root: a directory that is no symlink,
        in a checked one, is (one ``lstat``, not a ``realpath`` per new directory)."""
        if folder in self._inside:
            return True
        parent = os.path.dirname(folder)
        if len(folder) > len(self.root.rstrip(os.sep)) and parent != folder and self._resolves_inside(parent) \
                and not os.path.islink(folder):
            self._inside.add(folder)
            return True
        root = os.path.realpath(self.root)
        real = os.path.realpath(folder)
        if real != root and not real.startswith(root.rstrip(os.sep) + os.sep):
            return False
        self._inside.add(folder)
        return True

    def _make_parent(self, path: str) -> None:
        parent = os.path.dirname(path)
        if parent not in self._made_dirs:
            self._make_dir(parent)

    def _make_dir(self, folder: str) -> None:
        """``mkdir -p folder``, each directory remembered once per store handle.

        One that existed is cleared of dead writers' temporaries; one made here
        has none, and (made by ``mkdir`` in a checked directory) is no symlink:
        creating a small dataset makes two directories, and skipping their
        scans and ``lstat`` calls is a tenth of its system calls.  Below a
        directory known to exist, the missing ones are made top down (a new
        dataset's directory and its ``c``: two ``mkdir`` calls, none failing).
        """
        missing, known = [], folder
        while known not in self._made_dirs:
            if len(known) <= len(self.root):  # no known ancestor: find out bottom up
                self._make_dir_up(folder)
                return
            missing.append(known)
            known = os.path.dirname(known)
        for directory in reversed(missing):
            try:
                os.mkdir(directory)
            except FileNotFoundError:  # a known one was removed by another writer meanwhile
                self._made_dirs.difference_update(missing + [known])
                self._make_dir_up(folder)
                return
            except FileExistsError:  # made by another writer meanwhile
                remove_dead_temporaries(directory)
            else:
                if os.path.dirname(directory) in self._inside:
                    self._inside.add(directory)
            self._made_dirs.add(directory)

    def _make_dir_up(self, folder: str) -> None:
        """:meth:`_make_dir` when no ancestor is known to exist: ``mkdir`` the
        directory, and its parent first when that is missing."""
        if len(folder) <= len(self.root):  # the root and above: made, never cleared
            os.makedirs(folder, exist_ok=True)
            return
        parent = os.path.dirname(folder)
        try:
            os.mkdir(folder)
            made = True
        except FileNotFoundError:
            self._make_dir_up(parent)
            try:
                os.mkdir(folder)
                made = True
            except FileExistsError:
                made = False
        except FileExistsError:
            made = False
        if not made:
            remove_dead_temporaries(folder)
        elif parent in self._inside:
            self._inside.add(folder)
        self._made_dirs.add(folder)
        while parent not in self._made_dirs and len(parent) > len(self.root):  # ancestors exist now
            remove_dead_temporaries(parent)
            self._made_dirs.add(parent)
            parent = os.path.dirname(parent)

    def _temp_beside(self, path: str) -> str:
        return _temp_name(path)

    # --------------------------------------------------------------- reads
    def _open_for_read(self, key: str) -> int | None:
        """A descriptor of the object at ``key`` (None when missing); never through
        a symlink or a directory outside the store root."""
        try:
            return os.open(self._confined(key), os.O_RDONLY | _NOFOLLOW)
        except _MISSING:
            return None
        except OSError as exc:
            raise _symlink_refusal(exc, self.url, key)

    def _get(self, key: str) -> bytes | None:
        fd = self._open_for_read(key)
        if fd is None:
            return None
        try:
            with open(fd, "rb") as fh:
                return fh.read()
        except _MISSING:
            return None

    def _get_range(self, key: str, start: int, stop: int | None) -> bytes | None:
        fd = self._open_for_read(key)
        if fd is None:
            return None
        try:
            if start < 0 or stop is None:
                start, stop, _ = slice(start, stop).indices(os.fstat(fd).st_size)
            return os.pread(fd, max(0, stop - start), start)
        finally:
            os.close(fd)

    def _read_into(self, key: str, nbytes: int, ranges: list) -> bool:
        fd = self._open_for_read(key)
        if fd is None:
            return False
        try:
            size = os.fstat(fd).st_size
            if size != nbytes:
                raise ValueError(f"stored {size} bytes, expected {nbytes}")
            for offset, buffers in ranges:
                _vectored_all(os.preadv, fd, buffers, offset)
        finally:
            os.close(fd)
        return True

    def _exists(self, key: str) -> bool:
        return os.path.exists(self.path(key))

    def _list_entries(self, prefix: str) -> list:
        try:
            with os.scandir(self.path(prefix)) as entries:
                return [(e.name, e.is_dir()) for e in entries]
        except (FileNotFoundError, NotADirectoryError):
            return []

    def _walk(self, prefix: str, sizes: bool) -> dict:
        """``{key: size or None}`` of the files under ``prefix`` (one scandir per directory)."""
        found: dict = {}
        pending = [prefix]
        while pending:
            rel = pending.pop()
            try:
                with os.scandir(self.path(rel)) as entries:
                    for e in entries:
                        key = f"{rel}/{e.name}" if rel else e.name
                        if e.is_dir():
                            pending.append(key)
                        else:
                            found[key] = e.stat().st_size if sizes else None
            except NotADirectoryError:
                if os.path.isfile(self.path(rel)):
                    found[rel] = os.stat(self.path(rel)).st_size if sizes else None
            except FileNotFoundError:
                pass
        return found

    def _list_keys(self, prefix: str) -> list:
        return sorted(self._walk(prefix, sizes=False))

    def _list_sizes(self, prefix: str) -> dict:
        return self._walk(prefix, sizes=True)

    def _is_empty_root(self) -> bool:
        try:
            with os.scandir(self.root) as entries:
                return next(entries, None) is None
        except FileNotFoundError:
            return True
        except NotADirectoryError:
            return False

    # -------------------------------------------------------------- writes
    def _set(self, key: str, value) -> None:
        path = self.path(key)
        self._make_parent(path)
        self._confined(key)
        tmp = self._temp_beside(path)
        try:
            fd = self._create_temporary(tmp)
            try:
                _write_all(fd, value)
            finally:
                os.close(fd)
            os.replace(tmp, path)
        except BaseException:
            _remove_quietly(tmp)
            raise

    def _set_many(self, items: dict) -> None:
        """Many objects, in contiguous runs on a few of the shared I/O threads.

        Writing a small file locally is work in the kernel, with no wait to
        overlap: more threads than processors only hand the interpreter lock
        around (a task per object on 32 threads made 35 futex calls per
        object written at a flush of 300 small documents)."""
        runs = max(1, min(len(items), self.io_concurrency, _WRITE_THREADS))
        if runs == 1:
            for key, value in items.items():
                self._set(key, value)
            return
        pairs = list(items.items())
        bounds = [len(pairs) * k // runs for k in range(runs + 1)]

        def run(k: int) -> None:
            for key, value in pairs[bounds[k]:bounds[k + 1]]:
                self._set(key, value)

        # every run finishes (a run stops at its first failure) before the first error is raised
        futures = [self._threads().submit(run, k) for k in range(runs)]
        errors = [exc for exc in (future.exception() for future in futures) if exc is not None]
        if errors:
            raise errors[0]

    def _create_temporary(self, tmp: str) -> int:
        """A descriptor of the new file ``tmp``, made with plain ``os`` calls (a
        buffered file object adds fstat, ioctl and lseek calls per object).  Its
        directory, known to exist, may have been removed by another writer since:
        made again then."""
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC | _NOFOLLOW
        try:
            return os.open(tmp, flags, 0o666)
        except FileNotFoundError:
            folder = os.path.dirname(tmp)
            self._made_dirs = {d for d in self._made_dirs if not folder.startswith(d)}
            self._inside = {d for d in self._inside if not folder.startswith(d)}
            self._make_dir(folder)
            if not self._resolves_inside(folder):
                raise PermissionError(f"{self.url}: {folder!r} leads out of the store through a symlink")
            return os.open(tmp, flags, 0o666)

    def _update(self, key: str, change) -> bytes:
        # Other processes: an exclusive flock on the object's directory (its
        # inode outlives the renames that replace the object; no lock file).
        path = self.path(key)
        self._make_parent(path)
        self._confined(key)
        fd = os.open(os.path.dirname(path), os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            return super()._update(key, change)
        finally:
            os.close(fd)  # releases the lock

    def _write_from(self, key: str, ranges: list) -> None:
        path = self.path(key)
        self._make_parent(path)
        self._confined(key)
        tmp = self._temp_beside(path)
        try:
            fd = self._create_temporary(tmp)  # makes the directory again if another writer removed it
            try:
                for offset, buffers in ranges:
                    _vectored_all(os.pwritev, fd, buffers, offset)
            finally:
                os.close(fd)
            os.replace(tmp, path)
        except BaseException:
            _remove_quietly(tmp)
            raise

    def _delete_many(self, keys: list) -> None:
        for key in keys:
            try:
                os.remove(self.path(key))
            except FileNotFoundError:
                pass

    def _delete_prefix(self, prefix: str) -> None:
        path = self.path(prefix)
        if prefix == "":
            self._empty_root()
        else:
            try:
                shutil.rmtree(path)
            except NotADirectoryError:
                os.remove(path)
            except FileNotFoundError:
                pass
        self._made_dirs = {d for d in self._made_dirs if not d.startswith(path)}
        self._inside = {d for d in self._inside if not d.startswith(path)}

    def _empty_root(self) -> None:
        """Leave the root an empty directory: swapped with a fresh one at once where
        the system can (the old tree is then removed beside it), else emptied
        with the root document last, so a kill never leaves a wedged store."""
        root = self.root.rstrip(os.sep)
        parent, name = os.path.split(root)
        for entry in _trash_beside(parent, name):  # a previous swap's leftovers
            shutil.rmtree(entry, ignore_errors=True)
        if not os.path.isdir(root):
            return
        trash = os.path.join(parent, f".{name}.{os.getpid()}-{uuid.uuid4().hex[:16]}{_TRASH_SUFFIX}")
        try:
            os.mkdir(trash)
        except OSError:
            trash = None  # a parent we may not write: empty the root in place
        if trash is not None and _exchange(root, trash):
            shutil.rmtree(trash, ignore_errors=True)
            return
        if trash is not None:
            os.rmdir(trash)
        if os.path.exists(os.path.join(root, META_KEY)):
            self._set(META_KEY, REPLACING_ROOT)  # recognisably being replaced (see Store._empty_root)
        with os.scandir(root) as entries:
            names = [e.name for e in entries if e.name != META_KEY]
        for entry in names:
            full = os.path.join(root, entry)
            _remove_quietly(os.path.join(full, META_KEY))  # each child node gone at once
        for entry in names:
            full = os.path.join(root, entry)
            if os.path.isdir(full) and not os.path.islink(full):
                shutil.rmtree(full, ignore_errors=True)
            else:
                _remove_quietly(full)
        _remove_quietly(os.path.join(root, META_KEY))

    def _move_prefix(self, src: str, dest: str) -> None:
        os.makedirs(os.path.dirname(self.path(dest)), exist_ok=True)
        os.rename(self.path(src), self.path(dest))
        self._made_dirs.clear()

    # ---------------------------------------------------- search index
    def predicted_fingerprint(self, key: str, raw) -> str:
        try:
            return _stat_fingerprint(os.stat(self.path(key)))
        except OSError:
            return ""

    @staticmethod
    def _node_stat(directory: str) -> str | None:
        """A node's fingerprint: the ``stat`` of its document (and of its side object, if any)."""
        try:
            fp = _stat_fingerprint(os.stat(os.path.join(directory, META_KEY)))
        except (FileNotFoundError, NotADirectoryError):
            return None
        try:
            return node_fingerprint(fp, _stat_fingerprint(os.stat(os.path.join(directory, SIDE_KEY))))
        except (FileNotFoundError, NotADirectoryError):
            return fp

    def _scan_documents(self, kinds_of: KindsOf, offer: OfferDocument | None) -> dict:
        """``stat`` of each node document, one ``scandir`` per group (no document read)."""
        found = {"": self._node_stat(self.path(""))}
        if found[""] is None:
            return {}
        level = [""]
        while level:
            new = {}
            for group in level:
                self.requests.add("list")
                try:
                    with os.scandir(self.path(group)) as scanned:
                        entries = [e for e in scanned if e.is_dir()]
                except (FileNotFoundError, NotADirectoryError):
                    continue
                for entry in entries:  # directories only: temporary files and the sidecar are files
                    fp = self._node_stat(entry.path)
                    if fp is not None:
                        new[f"{group}/{entry.name}" if group else entry.name] = fp
            found.update(new)
            kinds = kinds_of(new)
            level = [p for p in new if kinds.get(p) == "group"]
        return found

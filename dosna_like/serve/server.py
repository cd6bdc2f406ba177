"""The HTTP server: h5grove's API under ``/api/`` and h5web's page at ``/``.

Endpoints (GET only; the store is opened read-only):

``/api/meta``, ``/api/attr``, ``/api/data``, ``/api/stats``, ``/api/paths``
    h5grove's, with its query arguments (``file``, ``path``, ``selection``,
    ``format``, ``dtype``, ``flatten``, ``attr_keys``); large planes are
    decimated (:mod:`.limits`; ``meta`` says so in ``decimated``).  The
    ``meta`` of a dataset itself adds ``storage``: its stored size, as
    ``dosna-like info`` gives it (not for a group's children: one listing each).
``/api/files``
    the served URL and the names of its files.
``/api/search?q=EXPR...``
    the sidecar index, in the query language of ``dosna-like search``.

A missing file or node answers 404, a bad selection or path 400, each as
``{"message": ...}`` (h5grove's error body), never a traceback.  Work runs
on a small thread pool so a slow read does not stall other requests.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
import importlib.resources
import sys
import webbrowser

import numpy as np
import tornado.httpserver
import tornado.netutil
import tornado.ioloop
import tornado.web

from ..catalog.search import search as catalog_search
from ..catalog.sizes import stored_size
from ..format.links import ExternalLink, SoftLink
from .grove import DatasetContent, GroupContent, content_for, grove_encoders, grove_utils
from .limits import (MAX_RESPONSE_BYTES, SelectionError, TooLargeError, decimation_steps, map_selection,
                     view_shape)
from .sources import NodeNotServed, PathRefused, Served, resolve

__all__ = ["ApiError", "AttrHandler", "DataHandler", "FilesHandler", "make_app", "MAX_HITS", "MAX_PATHS", "MetaHandler",
           "PathsHandler", "SearchHandler", "serve", "STATIC_DIR", "StatsHandler", "StatusHandler"]

STATIC_DIR = str(importlib.resources.files(__package__) / "static")
MAX_HITS = 1000
MAX_PATHS = 100_000
_LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")


class ApiError(tornado.web.HTTPError):
    """An HTTP error whose message goes in the JSON body (any text; the status line keeps its standard phrase)."""

    def __init__(self, status: int, message: str):
        super().__init__(status)
        self.message = message


class _ApiHandler(tornado.web.RequestHandler):
    """One h5grove endpoint: arguments in, ``work`` on the pool, an encoded response out."""

    def initialize(self, served: Served, pool, parse_query, loopback_only: bool) -> None:
        self.served, self.pool, self.parse_query, self.loopback_only = served, pool, parse_query, loopback_only

    def prepare(self) -> None:
        # a page elsewhere must not reach a server on loopback through a name it controls (DNS rebinding)
        host = self.request.host.rsplit(":", 1)[0] if not self.request.host.endswith("]") else self.request.host
        if self.loopback_only and host not in _LOOPBACK:
            raise ApiError(403, f"host {self.request.host!r} refused")

    def arg(self, name: str, default=None):
        return self.get_query_argument(name, default, strip=False)

    async def get(self) -> None:
        try:
            response = await tornado.ioloop.IOLoop.current().run_in_executor(self.pool, self.work)
        except (NodeNotServed, KeyError) as exc:
            raise ApiError(404, _message(exc)) from exc
        except (PathRefused, SelectionError, TooLargeError, TypeError, ValueError, IndexError) as exc:
            raise ApiError(400, _message(exc)) from exc
        except OSError as exc:
            raise ApiError(502, _message(exc)) from exc
        if len(response.content) > MAX_RESPONSE_BYTES:
            raise ApiError(400, f"the response would hold {len(response.content)} bytes, "
                           f"more than {MAX_RESPONSE_BYTES}")
        for key, value in response.headers.items():
            self.set_header(key, value)
        self.finish(response.content)

    def work(self):
        raise NotImplementedError

    def write_error(self, status_code: int, **kwargs) -> None:
        self.set_header("Content-Type", "application/json")
        error = kwargs.get("exc_info", (None, None))[1]
        self.finish(grove_encoders.orjson_encode({"message": getattr(error, "message", self._reason)}))

    def content(self):
        f = self.served.file(self.arg("file"))
        return content_for(f, self.arg("path", "/") or "/")


def _message(exc: BaseException) -> str:
    text = str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)
    return " ".join((text or type(exc).__name__).split())[:500]


class MetaHandler(_ApiHandler):
    def work(self):
        content = self.content()
        meta = content.metadata()
        if isinstance(content, DatasetContent):
            meta = _decimated_meta(meta, content._h5py_entity.shape)
            meta["storage"] = _storage(content._h5py_entity)
        elif isinstance(content, GroupContent):
            for child in meta["children"]:
                if child["kind"] == "dataset":
                    child.update(_decimated_meta(dict(child), tuple(child["shape"] or ())))
        return grove_encoders.encode(meta)


def _storage(ds) -> dict:
    """The dataset's stored size, as ``dosna-like info`` gives it (one listing of its chunks;
    h5web ignores the entry, the page's additions show it)."""
    size = stored_size(ds.file.store, ds._path, 0 if ds.shape is None else ds.nbytes)
    return {"stored_bytes": size.stored_bytes, "chunks_stored": size.objects, "nbytes": size.nbytes,
            "ratio": size.ratio}


def _decimated_meta(meta: dict, shape) -> dict:
    if meta.get("shape") is None:
        return meta
    steps = decimation_steps(shape)
    if any(s > 1 for s in steps):
        meta["shape"] = view_shape(shape, steps)
        meta["chunks"] = None  # chunks of the full-resolution array: not those of the view
        meta["decimated"] = {"shape": list(shape), "steps": list(steps)}  # h5web ignores it; the page's additions show it
    return meta


class AttrHandler(_ApiHandler):
    def work(self):
        content = self.content()
        if not hasattr(content, "attributes"):
            raise TypeError(f"{content.path} is a link, which has no attributes")
        keys = self.get_query_arguments("attr_keys", strip=False)
        return grove_encoders.encode(content.attributes(keys or None))


def _dataset_selection(handler: _ApiHandler):
    """(content, data read for the request's selection, in view coordinates)."""
    content = handler.content()
    if not isinstance(content, DatasetContent):
        raise TypeError(f"{content.path} is not a dataset")
    ds = content._h5py_entity
    text = handler.arg("selection")
    if ds.shape is None:  # an empty dataset (h5py.Empty)
        return content, ds[()]
    steps = decimation_steps(ds.shape)
    members = () if text is None else grove_utils.parse_slice(text)
    selection = map_selection(members, ds.shape, steps, ds.dtype.itemsize)
    return content, ds[selection.key] if selection.key else ds[()]


class DataHandler(_ApiHandler):
    def work(self):
        _content, data = _dataset_selection(self)
        data = grove_utils.convert(data, self.arg("dtype"))
        if grove_utils.parse_bool_arg(self.arg("flatten"), fallback=False) and isinstance(data, np.ndarray):
            data = np.ravel(data)
        if self.arg("format") in (None, "json") and isinstance(data, (np.ndarray, np.generic)) \
                and data.dtype.byteorder == ">":  # orjson takes native byte order only; the values are the same
            data = data.astype(data.dtype.newbyteorder("="))
        return grove_encoders.encode(data, self.arg("format"))


class StatsHandler(_ApiHandler):
    def work(self):
        _content, data = _dataset_selection(self)
        data = np.asarray(data)
        if np.issubdtype(data.dtype, np.floating):
            data = data[np.isfinite(data)]
        return grove_encoders.encode(grove_utils.get_array_stats(data))


class PathsHandler(_ApiHandler):
    def work(self):
        f = self.served.file(self.arg("file"))
        base = self.arg("path", "/") or "/"
        group = resolve(f, base)
        if not hasattr(group, "keys"):
            raise TypeError(f"{base} is not a group")
        paths = [base]
        _visit_links(group, base, paths)
        return grove_encoders.encode(paths)


def _visit_links(group, prefix: str, paths: list) -> None:
    """Depth first, in name order, the links below ``group`` (h5grove's ``links.visit``),
    without following soft or external links."""
    for name in group.keys():
        path = grove_utils.hdf_path_join(prefix, name)
        paths.append(path)
        if len(paths) > MAX_PATHS:
            raise TooLargeError(f"more than {MAX_PATHS} objects below: too many to list")
        if isinstance(group.get(name, getlink=True), (SoftLink, ExternalLink)):
            continue
        child = group[name]
        if hasattr(child, "keys"):
            _visit_links(child, path, paths)


class FilesHandler(_ApiHandler):
    def work(self):
        return grove_encoders.encode({"url": self.served.url, "files": list(self.served.files)})


class SearchHandler(_ApiHandler):
    def work(self):
        text = self.arg("q", "") or ""
        try:
            query = self.parse_query(text)
        except Exception as exc:  # noqa: BLE001 - the query language's own errors are the user's message
            raise SelectionError(f"cannot read the query: {exc}") from exc
        hits = catalog_search(self.served.url, query, storage_options=self.served.storage_options)
        out = []
        for hit in hits:
            name = self.served.name_of(hit.url)
            if name is None:
                continue  # a file the server does not serve
            out.append({"file": name, "path": hit.path, "kind": hit.kind,
                        "shape": None if hit.shape is None else list(hit.shape),
                        "dtype": None if hit.dtype is None else str(hit.dtype)})
        return grove_encoders.encode({"hits": out[:MAX_HITS], "truncated": len(out) > MAX_HITS})


class StatusHandler(_ApiHandler):
    def work(self):
        return grove_encoders.encode("ok")


class _StaticHandler(tornado.web.StaticFileHandler):
    def set_extra_headers(self, path: str) -> None:
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("Cache-Control", "no-cache")


def make_app(served: Served, parse_query=None, loopback_only: bool = True, workers: int = 4) -> tornado.web.Application:
    """The tornado application for ``served``.  ``parse_query``: text -> query dict
    (``dosna-like serve`` passes the command line's own parser)."""
    pool = ThreadPoolExecutor(workers, thread_name_prefix="dosna-serve")
    parse = parse_query or (lambda text: None if not text.strip() else {"$path": text.strip()})
    init = {"served": served, "pool": pool, "parse_query": parse, "loopback_only": loopback_only}
    routes = [(rf"/api/{name}/?", handler, init) for name, handler in (
        ("meta", MetaHandler), ("attr", AttrHandler), ("data", DataHandler), ("stats", StatsHandler),
        ("paths", PathsHandler), ("files", FilesHandler), ("search", SearchHandler))]
    routes.append((r"/api/?", StatusHandler, init))
    routes.append((r"/(.*)", _StaticHandler, {"path": STATIC_DIR, "default_filename": "index.html"}))
    return tornado.web.Application(routes, compress_response=True)


def serve(url: str, storage_options: dict | None = None, host: str = "127.0.0.1", port: int = 8765,
          open_browser: bool = False, parse_query=None) -> None:
    """Serve ``url`` until interrupted; prints the address first."""
    served = Served(url, storage_options)
    loopback = host in _LOOPBACK
    app = make_app(served, parse_query, loopback_only=loopback)
    server = tornado.httpserver.HTTPServer(app)
    sockets = tornado.netutil.bind_sockets(port, host)
    server.add_sockets(sockets)
    bound = sockets[0].getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    address = f"http://{shown}:{bound}/"
    print(f"dosna-like: serving {url} ({len(served.files)} file{'s' if len(served.files) != 1 else ''}) "
          f"at {address}  (Ctrl-C stops)", flush=True)
    if not loopback:
        print("dosna-like: warning: listening beyond this machine; anyone who reaches it can read the data",
              file=sys.stderr, flush=True)
    if open_browser:
        webbrowser.open(address)
    try:
        tornado.ioloop.IOLoop.current().start()
    finally:
        server.stop()
        served.close()

"""The ``dosna-like`` command: list, inspect, search, reindex, import, export and copy.

    dosna-like ls [-r] URL[/path]            members, like h5ls: name, kind, shape, dtype
    dosna-like info URL/path                 chunks, compression, stored bytes, attributes
    dosna-like search URL EXPR... [--json]   EXPR: sample=mouse-1  temp>=300  path~*raw*
    dosna-like reindex URL [--check]         rebuild (or check) the sidecar search index
    dosna-like upgrade URL                   rewrite an older store's documents in the current layout
    dosna-like import SRC.h5 DEST_URL        an HDF5 file into a store
    dosna-like import --reference SRC.h5 DEST_URL   ... by reference (zero-copy)
    dosna-like export SRC_URL DEST.h5        a store into an HDF5 file
    dosna-like cp SRC DEST                   between stores, or to/from HDF5
    dosna-like serve URL [--port N] [--open] h5web's viewer in a browser (read-only, on 127.0.0.1)

URLs are local paths or fsspec URLs (``s3://bucket/run.h5``); a path inside a
file follows the file's URL (``s3://bucket/run.h5/raw/temp``).  Errors print
one line on stderr and exit with status 1 (2 for a wrong command line).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import warnings

import numpy as np

from . import __version__
from .catalog import search as catalog
from .catalog.display import attr_text, jsonable
from .catalog.sizes import stored_size

from .codecs.chains import h5py_view
from .codecs.registry import DEFLATE, REGISTRY
from .errors import IncompleteFileWarning
from .format.documents import ArrayMeta
from .format.grid import grid_shape
from .format.reserved import reserved_of
from .hl.files import incomplete_datasets, incomplete_message
from .index.nodes import doc_attrs
from .index.expressions import SPECIAL_KEYS, build_query, parse_expr, parse_query_text
from .index.query import node_kind
from .storage import is_url
from .storage.hdf5_open import is_hdf5
from .transfer.common import incomplete_mark, require_h5py
from .transfer.hdf5_export import export_hdf5
from .transfer.hdf5_import import import_hdf5
from .transfer.hdf5_reference import materialize_references
from .transfer.store_copy import copy_store
from .transfer.upgrade import upgrade_store

__all__ = [
    "build_parser", "build_query", "cmd_cp", "cmd_export", "cmd_import", "cmd_info", "cmd_ls",
    "cmd_reindex", "cmd_search", "cmd_serve", "cmd_upgrade", "CommandError", "main", "parse_expr", "SPECIAL_KEYS",
]


class CommandError(Exception):
    """A user-facing failure: printed as one line, exit status 1."""


# ================================================================ output
def _shape_text(shape) -> str:
    return "" if shape is None else "(" + ", ".join(str(s) for s in shape) + (",)" if len(shape) == 1 else ")")


def _table(rows: list) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))] if rows else []
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows)


def _warn_incomplete(url: str, nodes: dict) -> None:
    """The warning ``File`` gives for an unfinished import or copy, from the index already read."""
    mark = incomplete_mark(nodes[""].doc)
    if mark is not None:
        warnings.warn(incomplete_message(url, mark, incomplete_datasets(nodes)), IncompleteFileWarning, stacklevel=2)


def _warning_printer():
    """A ``warnings.showwarning`` for one run: one line each on stderr, each text
    once (the library and the command may both notice the same unfinished file)."""
    shown: set = set()

    def show(message, category, filename, lineno, file=None, line=None) -> None:
        text = " ".join(str(message).split())
        if text not in shown:
            shown.add(text)
            print(f"dosna-like: warning: {text}", file=sys.stderr)

    return show


# ============================================================== commands
def _options(args) -> dict | None:
    if not args.storage_options:
        return None
    try:
        options = json.loads(args.storage_options)
    except ValueError as exc:
        raise CommandError(f"--storage-options is not JSON: {exc}") from exc
    if not isinstance(options, dict):
        raise CommandError("--storage-options must be a JSON object")
    return options


def _nothing_there(url: str) -> CommandError:
    if _is_hdf5_file(url):
        return CommandError(f"{url} is an HDF5 file, not a dosna_like store: import it first "
                            f"(dosna-like import {url} DEST_URL)")
    return CommandError(f"{url}: no dosna_like file or object there")


def _locate(url: str, options) -> tuple:
    located = catalog.locate(url, options)
    if located is None:
        raise _nothing_there(url)
    return located


def _links_of(doc: dict, path: str) -> dict:
    """A group's link records (FormatError naming the group when they are damaged)."""
    return reserved_of(doc, path).get("links", {})


def _link_row(name: str, record: dict) -> tuple:
    kind = {"soft": "SoftLink", "external": "ExternalLink", "hard": "HardLink"}.get(record.get("type"), "Link")
    target = record.get("path", "")
    if record.get("type") == "external":
        target = f"{record.get('file')}:{target}"
    return (name, kind, f"-> {target}", "")


def _ls_rows(nodes: dict, inner: str, recursive: bool) -> list:
    prefix = inner + "/" if inner else ""
    rows = []
    for path in sorted(nodes):
        if not path.startswith(prefix) or path == inner:
            continue
        rel = path[len(prefix):]
        if not recursive and "/" in rel:
            continue
        node = nodes[path]
        rows.append((rel, node.kind.capitalize(), _shape_text(node.shape), node.dtype_text))
    for path in sorted(nodes):
        if path != inner and not (recursive and path.startswith(prefix)):
            continue
        rel_group = path[len(prefix):] if path != inner else ""
        if nodes[path].kind != "group":
            continue
        for name, record in sorted(_links_of(nodes[path].doc, path).items()):
            rows.append(_link_row(f"{rel_group}/{name}" if rel_group else name, record))
    return sorted(rows)


def cmd_ls(args) -> int:
    options = _options(args)
    located = catalog.locate(args.url, options)
    if located is None:
        files = catalog.find_files(args.url, options)
        if not files:
            raise _nothing_there(args.url)
        base = args.url.rstrip("/")
        print(_table([(f[0][len(base) + 1:] if f[0].startswith(base) else f[0], "File", "", "") for f in files]))
        return 0
    file_url, inner = located
    nodes = catalog.file_nodes(file_url, options)
    _warn_incomplete(file_url, nodes)
    if inner not in nodes:
        raise CommandError(f"{args.url}: no such object in {file_url}")
    if is_hdf5(file_url, options):
        print(f"{file_url}: HDF5 file, read in place")
    node = nodes[inner]
    if node.kind == "dataset":
        name = args.url.rstrip("/").rsplit("/", 1)[-1]  # as asked: a link's name, not its target's
        rows = [(name, "Dataset", _shape_text(node.shape), node.dtype_text)]
    else:
        rows = _ls_rows(nodes, inner, args.recursive)
    if rows:
        print(_table(rows))
    return 0


def _info(file_url: str, inner: str, nodes: dict, options) -> dict:
    doc = nodes[inner].doc
    info = {"url": file_url, "path": "/" + inner, "kind": node_kind(doc, inner),
            "format": "hdf5" if is_hdf5(file_url, options) else "dosna_like",
            "attrs": {k: jsonable(v) for k, v in doc_attrs(doc, inner).items()}}
    if doc.get("node_type") == "group":
        prefix = inner + "/" if inner else ""
        below = [p for p in nodes if p.startswith(prefix) and p != inner]
        info["members"] = sum(1 for p in below if "/" not in p[len(prefix):]) + len(_links_of(doc, inner))
        info["datasets_below"] = sum(1 for p in below if nodes[p].kind == "dataset")
        info["groups_below"] = len(below) - info["datasets_below"]
        return info

    meta = ArrayMeta.from_document(doc, inner)
    view = h5py_view(meta.codecs, meta.attributes)
    size = stored_size(catalog.open_file_store(file_url, options), inner,
                       int(np.prod(meta.shape, dtype=np.int64)) * meta.dtype.itemsize)
    grid = list(grid_shape(meta.shape, meta.grid_chunks))  # of stored objects: shards when sharded
    shards = None if meta.sharding is None else list(meta.sharding.shards)
    info.update(shape=list(meta.shape), maxshape=list(meta.maxshape), dtype=str(meta.dtype),
                chunks=list(meta.chunks), shards=shards, chunk_grid=grid, chunks_total=int(np.prod(grid or [1])),
                chunks_stored=size.objects, compression=view.compression, compression_opts=jsonable(view.compression_opts),
                shuffle=view.shuffle, fletcher32=view.fletcher32,
                fillvalue=jsonable(meta.fill_value), nbytes=size.nbytes, stored_bytes=size.stored_bytes,
                ratio=size.ratio)
    return info


def _human(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{n} B"
        n /= 1024
    return str(n)


def _print_info(info: dict, attrs: dict) -> None:
    print(f"{info['path']}  {info['kind'].capitalize()}  in {info['url']}")
    if info.get("format") == "hdf5":
        print("  format        HDF5 file, read in place")
    if info["kind"] == "group":
        print(f"  members       {info['members']} ({info['groups_below']} groups, "
              f"{info['datasets_below']} datasets below)")
    else:
        print(f"  shape         {_shape_text(info['shape'])}  maxshape "
              f"{_shape_text(tuple('None' if m is None else m for m in info['maxshape']))}")
        print(f"  dtype         {info['dtype']}")
        sharded = f" in shards {_shape_text(info['shards'])}" if info.get("shards") else ""
        print(f"  chunks        {_shape_text(info['chunks'])}{sharded}  ({info['chunks_stored']} of "
              f"{info['chunks_total']} {'shards ' if sharded else ''}stored)")
        comp = info["compression"] or "none"
        if info["compression_opts"] is not None:
            comp += f" ({info['compression_opts']})"
        extras = [x for x in ("shuffle", "fletcher32") if info[x]]
        print(f"  compression   {comp}{', ' + ', '.join(extras) if extras else ''}")
        print(f"  fill value    {info['fillvalue']}")
        ratio = f"ratio {info['ratio']}" if info["ratio"] else "nothing stored"
        print(f"  stored        {_human(info['stored_bytes'])} for {_human(info['nbytes'])} ({ratio})")
    print(f"  attributes    {len(attrs)}")
    for name, value in attrs.items():
        print(f"    {name} = {attr_text(value)}")


def cmd_info(args) -> int:
    options = _options(args)
    file_url, inner = _locate(args.url, options)
    nodes = catalog.file_nodes(file_url, options)
    _warn_incomplete(file_url, nodes)
    if inner not in nodes:
        raise CommandError(f"{args.url}: no such object in {file_url}")
    info = _info(file_url, inner, nodes, options)
    if args.json:
        print(json.dumps(info, indent=2, ensure_ascii=False))
    else:
        _print_info(info, doc_attrs(nodes[inner].doc, inner))
    return 0


def _hit_json(hit) -> dict:
    return {"url": hit.url, "path": hit.path, "kind": hit.kind,
            "shape": None if hit.shape is None else list(hit.shape),
            "dtype": None if hit.dtype is None else str(hit.dtype),
            "attrs": {k: jsonable(v) for k, v in hit.attrs.items()}}


def cmd_search(args) -> int:
    options = _options(args)
    query = build_query(args.expr, args.query)
    hits = catalog.search(args.url, query, storage_options=options, verify=not args.no_verify)
    if not hits:
        why = catalog.incomparable(args.url, query, storage_options=options, verify=not args.no_verify)
        if why is not None:
            raise CommandError(why)
        print("dosna-like: no matches", file=sys.stderr)
    if args.latest:
        hits = catalog.latest(hits, args.latest, per=args.per)
    if args.json:
        print(json.dumps([_hit_json(h) for h in hits], indent=2, ensure_ascii=False))
    elif hits:
        print(_table([(h.url, h.path, h.kind.capitalize(), _shape_text(h.shape),
                       "" if h.dtype is None else str(h.dtype)) for h in hits]))
    return 0


def cmd_reindex(args) -> int:
    options = _options(args)
    targets = catalog.find_files(args.url, options)
    if not targets:
        raise CommandError(f"{args.url}: no dosna_like file there")
    status = 0
    for file_url, _ in targets:
        if args.check:
            fresh = catalog.sidecar_is_current(file_url, options)
            print(f"{file_url}: {'up to date' if fresh else 'STALE or missing'}")
            status = status or (0 if fresh else 1)
            continue
        nodes = catalog.rebuild(file_url, options)
        datasets = sum(1 for node in nodes.values() if node.kind == "dataset")
        print(f"{file_url}: indexed {len(nodes) - datasets} groups and {datasets} datasets")
    return status


def cmd_upgrade(args) -> int:
    report = upgrade_store(args.url, _options(args))
    print(f"{args.url}: rewrote {len(report.rewritten)} of {report.nodes} node documents")
    return 0


def _progress_flag(args):
    return False if args.no_progress else None


def _report(verb: str, report) -> None:
    rate = report.throughput / 2**20
    print(f"{verb} {report.source} -> {report.dest}: {report.groups} groups, {report.datasets} datasets, "
          f"{report.links} links, {_human(report.nbytes)} in {report.seconds:.2f} s ({rate:.1f} MiB/s)")
    for name, why in report.skipped:
        print(f"  skipped {name}: {why}")


def cmd_import(args) -> int:

    if args.materialize:
        if args.dest is not None or args.reference:
            raise CommandError("--materialize takes one STORE_URL (a store imported with --reference)")
        report = materialize_references(args.src, storage_options=_options(args), njobs=args.njobs)
        print(f"materialized {report.referenced_chunks} referenced chunks of {report.datasets} datasets of "
              f"{report.dest} ({_human(report.nbytes)} in {report.seconds:.2f} s); it no longer needs the HDF5 file")
        return 0
    if args.dest is None:
        raise CommandError("import needs SRC.h5 and DEST_URL")
    report = import_hdf5(args.src, args.dest, storage_options=_options(args), overwrite=args.overwrite,
                         skip_unsupported=args.skip_unsupported, njobs=args.njobs,
                         progress=_progress_flag(args), compression=_compression_arg(args.compression),
                         deflate_as=args.deflate_as, reference=args.reference)
    _report("imported", report)
    if args.reference:
        print(f"  {report.referenced_chunks} chunks referenced in {report.source} (not copied; "
              f"`dosna-like import --materialize {args.dest}` copies them)")
        for name in report.copied_datasets:
            print(f"  copied {name} (its filters or type are read through h5py)")
    return 0


def cmd_export(args) -> int:

    report = export_hdf5(args.src, args.dest, storage_options=_options(args), overwrite=args.overwrite,
                         njobs=args.njobs, progress=_progress_flag(args),
                         compression=_compression_arg(args.compression))
    _report("exported", report)
    return 0


def _is_hdf5_file(path: str) -> bool:
    if is_url(path) or not os.path.isfile(path):
        return False

    return bool(require_h5py().is_hdf5(path))


def cmd_cp(args) -> int:

    options, progress = _options(args), _progress_flag(args)
    src_hdf5 = _is_hdf5_file(args.src)
    dest_hdf5 = args.format == "hdf5" or (args.format == "auto" and _is_hdf5_file(args.dest))
    if src_hdf5 and dest_hdf5:
        raise CommandError("both sides are HDF5 files: use h5copy or h5py for that")
    if src_hdf5:
        report = import_hdf5(args.src, args.dest, storage_options=options, overwrite=args.overwrite,
                             skip_unsupported=args.skip_unsupported, njobs=args.njobs, progress=progress)
        _report("imported", report)
        return 0
    file_url, inner = _locate(args.src, options)
    if dest_hdf5:
        if inner:
            raise CommandError("export copies whole files; give the file's URL")
        report = export_hdf5(file_url, args.dest, storage_options=options, overwrite=args.overwrite,
                             njobs=args.njobs, progress=progress)
        _report("exported", report)
        return 0
    report = copy_store(file_url, args.dest, storage_options=options, overwrite=args.overwrite,
                        njobs=args.njobs, progress=progress, path=inner)
    _report("copied", report)
    return 0


def _compression_arg(text: str | None):
    if text is None or text == "keep":
        return "keep"
    if text == "none":
        return None
    return int(text) if text.isdigit() else text


# ================================================================ parser
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dosna-like", description="Inspect, search and move dosna_like files (Zarr v3 stores "
        "on local disk, memory or S3) and HDF5 files.",
        epilog="URLs are local paths or fsspec URLs; a path inside a file follows it: s3://bkt/run.h5/raw/t")
    options_help = 'fsspec options as JSON, e.g. \'{"client_kwargs": {"endpoint_url": "http://..."}}\''
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--storage-options", metavar="JSON", help=options_help)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("ls", help="list a group's members (name, kind, shape, dtype)",
                       description="List the members of a group (or describe one dataset), like h5ls. "
                       "A URL holding several files lists the files.")
    p.add_argument("url", metavar="URL[/path]")
    p.add_argument("-r", "--recursive", action="store_true", help="list every member below, not only direct ones")
    p.set_defaults(func=cmd_ls)

    p = sub.add_parser("info", help="chunks, compression, stored bytes and attributes of an object",
                       description="Show a dataset's shape, chunks, compression, stored bytes and "
                       "compression ratio, and its attributes (or a group's members and attributes).")
    p.add_argument("url", metavar="URL/path")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_info)

    p = sub.add_parser("search", help="find groups and datasets by their attributes",
                       description="Search one file, an object's subtree, or every file under a prefix. "
                       "Conditions (all must hold): key=value, key!=value, key>value, key>=value, "
                       "key<value, key<=value, key~glob, key (exists), !key (missing). "
                       "path, kind, ndim and dtype are the node's own fields (path~*raw*, kind=dataset); "
                       "write attrs.NAME for an attribute with one of those names.")
    p.add_argument("url", metavar="URL")
    p.add_argument("expr", nargs="*", metavar="EXPR")
    p.add_argument("--query", metavar="JSON", help='a query dict, e.g. \'{"$or": [{"a": 1}, {"b": 2}]}\'')
    p.add_argument("--json", action="store_true", help="print the hits as JSON")
    p.add_argument("--latest", metavar="ATTR", help="keep, per name (see --per), the hit with the highest ATTR")
    p.add_argument("--per", choices=("name", "path", "group"), default="name",
                   help="how --latest groups hits (default: name)")
    p.add_argument("--no-verify", action="store_true",
                   help="trust the sidecar indexes without the listing that checks them")
    p.set_defaults(func=cmd_search)

    p = sub.add_parser("reindex", help="rebuild the sidecar search index of a file (or of every file under a URL)",
                       description="Rebuild the sidecar search index from the node documents and store it.")
    p.add_argument("url", metavar="URL")
    p.add_argument("--check", action="store_true", help="only report whether the index is up to date (exit 1 if not)")
    p.set_defaults(func=cmd_reindex)

    p = sub.add_parser("upgrade", help="rewrite an older store's node documents in the current layout",
                       description="Rewrite every node document of the file at URL in the current layout "
                       "(reserved metadata out of array attributes, dimension_names, consolidated metadata); "
                       "documents already current are left alone, so running it again changes nothing.")
    p.add_argument("url", metavar="URL")
    p.set_defaults(func=cmd_upgrade)

    def transfer_options(p, skip=True):
        p.add_argument("--overwrite", action="store_true", help="replace the destination if it exists")
        p.add_argument("-j", "--njobs", type=int, metavar="N", help="worker threads")
        p.add_argument("--no-progress", action="store_true", help="no progress bar")
        if skip:
            p.add_argument("--skip-unsupported", action="store_true",
                           help="leave out (and list) objects the store cannot hold, instead of failing")

    p = sub.add_parser("import", help="copy an HDF5 file into a store",
                       description="Copy an HDF5 file (groups, datasets, attributes, links) into a new "
                       "file at DEST_URL, chunk by chunk, in parallel.")
    p.add_argument("src", metavar="SRC.h5")
    p.add_argument("dest", metavar="DEST_URL", nargs="?")
    p.add_argument("--reference", action="store_true",
                   help="zero-copy: the store's chunks stay in SRC.h5 (byte ranges); writes copy on write")
    p.add_argument("--materialize", action="store_true",
                   help="copy the referenced chunks of the store SRC (imported with --reference) into it")
    p.add_argument("--compression", metavar="C", help="keep (default), none, a codec name or a gzip level")
    p.add_argument("--deflate-as", choices=REGISTRY.importers(DEFLATE), default="gzip",
                   help="gzip data: Zarr's gzip codec (default; one decompression per chunk) or HDF5's "
                        "zlib streams unchanged (codec numcodecs.zlib; fastest)")
    transfer_options(p)
    p.set_defaults(func=cmd_import)

    p = sub.add_parser("export", help="write a store to an HDF5 file",
                       description="Write a file (groups, datasets, attributes, links) to an HDF5 file, "
                       "chunk by chunk; DEST.h5 appears only once complete.")
    p.add_argument("src", metavar="SRC_URL")
    p.add_argument("dest", metavar="DEST.h5")
    p.add_argument("--compression", metavar="C", help="keep (default), none, gzip or a gzip level")
    transfer_options(p, skip=False)
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("cp", help="copy between stores, or to/from HDF5",
                       description="Copy SRC to DEST: an HDF5 file is imported, a store (or an object "
                       "in one) is copied chunk objects as they are, or exported with --format hdf5.")
    p.add_argument("src", metavar="SRC")
    p.add_argument("dest", metavar="DEST")
    p.add_argument("--format", choices=("auto", "store", "hdf5"), default="auto",
                   help="what DEST is (auto: HDF5 only if it is an existing HDF5 file)")
    transfer_options(p)
    p.set_defaults(func=cmd_cp)
    p = sub.add_parser("serve", help="look at a file (or every file under a prefix) in a browser",
                       description="Serve h5web's viewer and h5grove's API, read-only, for one store, HDF5 "
                       "file or prefix of files; prints the address.")
    p.add_argument("url", metavar="URL")
    p.add_argument("--port", type=int, default=8765, help="TCP port (0: any free one; default 8765)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    p.add_argument("--open", action="store_true", help="open the page in a web browser")
    p.set_defaults(func=cmd_serve)
    for command in sub.choices.values():  # accepted after the command too; SUPPRESS keeps an earlier one
        command.add_argument("--storage-options", metavar="JSON", default=argparse.SUPPRESS, help=options_help)
    return parser


def cmd_serve(args) -> int:
    try:
        from .serve.server import serve  # optional: needs the serve extra (h5grove, tornado)
    except ImportError as exc:
        raise CommandError(f"dosna-like serve needs h5grove and tornado: pip install 'dosna_like[serve]' ({exc})")
    serve(args.url, _options(args), host=args.host, port=args.port, open_browser=args.open,
          parse_query=parse_query_text)
    return 0


def main(argv: list | None = None) -> int:
    """Run ``dosna-like``; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    with warnings.catch_warnings():
        warnings.showwarning = _warning_printer()  # one line each, as errors are
        return _run(args)


def _run(args) -> int:
    try:
        return args.func(args)
    except CommandError as exc:
        message = str(exc)
    except KeyboardInterrupt:
        print("dosna-like: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (dosna-like ls ... | head)
        sys.stdout = open(os.devnull, "w")
        return 0
    except KeyError as exc:
        message = str(exc.args[0]) if exc.args else "not found"
    except (OSError, ValueError, TypeError, ImportError) as exc:
        message = str(exc) or type(exc).__name__
    except (RecursionError, MemoryError) as exc:
        message = f"input too large or too deeply nested ({type(exc).__name__})"
    except Exception as exc:  # noqa: BLE001 - a command-line tool prints one line, never a traceback
        message = f"{type(exc).__name__}: {exc}"
    print(f"dosna-like: error: {' '.join(message.split())}", file=sys.stderr)
    return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

"""The ``dosna-like`` command, run as users run it: the console script, in a subprocess.

Expected outputs come from the Python API or from walking the file with
``visititems``, not from the command's own code.
"""
from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import h5py
import numpy as np
import pytest

import dosna_like
from dosna_like.transfer import hdf5_import
from dosna_like.format.keys import SIDECAR_KEY

from .conftest import S3_BUCKET
from .test_hdf5io import assert_same_file, make_hdf5

SCRIPT = Path(sys.executable).with_name("dosna-like")
COMMANDS = ["ls", "info", "search", "reindex", "import", "export", "cp", "serve"]


def run(*args, ok: bool = True) -> subprocess.CompletedProcess:
    assert SCRIPT.exists(), f"console script {SCRIPT.name} is not installed"
    proc = subprocess.run([str(SCRIPT)] + [str(a) for a in args], capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, COLUMNS="200"))
    if ok and proc.returncode != 0:
        raise AssertionError(f"dosna-like {' '.join(map(str, args))} -> {proc.returncode}\n{proc.stderr}")
    return proc


def fails(*args) -> str:
    proc = run(*args, ok=False)
    assert proc.returncode == 1, (proc.returncode, proc.stdout, proc.stderr)
    assert proc.stderr.startswith("dosna-like: error: ") and proc.stderr.count("\n") == 1, proc.stderr
    return proc.stderr


def make_store(url: str) -> dict:
    """A small file; returns {name: (kind, shape, dtype, attrs)} from a visititems walk."""
    rng = np.random.default_rng(7)
    with dosna_like.File(url, "w") as f:
        f.attrs["title"] = "cli"
        for run_id in range(2):
            g = f.create_group(f"run{run_id}")
            g.attrs["run"] = run_id
            for name in ("raw_a", "raw_b", "clean"):
                ds = g.create_dataset(name, data=rng.standard_normal((6, 4)).astype("f4"), chunks=(3, 2),
                                      compression="gzip")
                ds.attrs["sample"] = f"mouse-{1 + (run_id + len(name)) % 2}"
                ds.attrs["temp"] = 290.0 + 10 * run_id + len(name)
                ds.attrs["version"] = run_id + 1
        f["run1/raw_b"].attrs["version"] = "2"  # the CLI's 2 matches the number and the text
        f["latest"] = dosna_like.SoftLink("/run1/clean")
        walked = {}

        def visit(name, obj) -> None:
            kind = "Dataset" if isinstance(obj, dosna_like.Dataset) else "Group"
            walked["/" + name] = (kind, getattr(obj, "shape", None), getattr(obj, "dtype", None),
                                  dict(obj.attrs.items()))

        f.visititems(visit)
    return walked


@pytest.fixture
def store(tmp_path) -> tuple:
    url = str(tmp_path / "cli.h5")
    return url, make_store(url)


# ------------------------------------------------------------------- help
def test_help_everywhere():
    out = run("--help").stdout
    for command in COMMANDS:
        assert command in out
        sub = run(command, "--help").stdout
        assert sub.startswith("usage: dosna-like " + command)
    proc = run("no-such-command", ok=False)
    assert proc.returncode == 2 and "invalid choice" in proc.stderr
    assert run(ok=False).returncode == 2


# --------------------------------------------------------------- ls, info
def _rows(text: str) -> dict:
    return {line.split()[0]: line.split()[1:] for line in text.strip().splitlines()}


def test_ls_lists_like_h5ls(store):
    url, walked = store
    rows = _rows(run("ls", url).stdout)
    assert sorted(rows) == sorted([n.lstrip("/") for n in walked if n.count("/") == 1] + ["latest"])
    assert rows["run0"] == ["Group"] and rows["latest"] == ["SoftLink", "->", "/run1/clean"]
    deep = _rows(run("ls", "-r", url).stdout)
    assert sorted(deep) == sorted([n.lstrip("/") for n in walked] + ["latest"])
    for name, (kind, shape, dtype, _) in walked.items():
        expected = ["Dataset", *str(shape).split(), str(dtype)] if kind == "Dataset" else ["Group"]
        assert deep[name.lstrip("/")] == expected
    assert _rows(run("ls", f"{url}/run1").stdout).keys() == {"raw_a", "raw_b", "clean"}
    assert _rows(run("ls", f"{url}/run1/clean").stdout) == {"clean": ["Dataset", "(6,", "4)", "float32"]}


def test_ls_of_a_prefix_lists_its_files(tmp_path):
    for name in ("a.h5", "sub/b.h5"):
        with dosna_like.File(str(tmp_path / "files" / name), "w"):
            pass
    (tmp_path / "files" / "not-a-file").mkdir()
    assert _rows(run("ls", tmp_path / "files").stdout) == {"a.h5": ["File"], "sub/b.h5": ["File"]}


def test_info_reports_layout_stored_bytes_and_attrs(store):
    url, walked = store
    info = json.loads(run("info", "--json", f"{url}/run1/raw_a").stdout)
    with dosna_like.File(url, "r") as f:
        ds = f["run1/raw_a"]
        assert (info["shape"], info["dtype"], info["chunks"]) == (list(ds.shape), str(ds.dtype), list(ds.chunks))
        assert (info["compression"], info["compression_opts"]) == (ds.compression, ds.compression_opts)
        assert info["attrs"] == {k: (v.item() if isinstance(v, np.generic) else v) for k, v in ds.attrs.items()}
    chunk_dir = Path(url) / "run1" / "raw_a" / "c"
    on_disk = sum(p.stat().st_size for p in chunk_dir.rglob("*") if p.is_file())
    assert info["stored_bytes"] == on_disk and info["chunks_stored"] == 4
    assert info["ratio"] == round(6 * 4 * 4 / on_disk, 3)
    text = run("info", f"{url}/run1/raw_a").stdout
    assert "gzip" in text and "ratio" in text and "sample" in text
    group = json.loads(run("info", "--json", url).stdout)
    with dosna_like.File(url, "r") as f:
        assert group["members"] == len(f) == 3  # run0, run1 and the link
    assert group["datasets_below"] == 6 and group["attrs"] == {"title": "cli"}


def test_clear_errors_and_exit_status(store, tmp_path):
    url, _ = store
    assert "no dosna_like file" in fails("ls", tmp_path / "missing")
    assert "no dosna_like file" in fails("info", tmp_path / "missing" / "x")
    assert "unknown query operator" in fails("search", url, "--query", '{"temp": {"$regex": "x"}}')
    assert "cannot read the condition" in fails("search", url, "=3")
    assert "has no value" in fails("search", url, "temp>=")
    assert "not JSON" in fails("search", url, "--query", "{nope")
    assert "not JSON" in fails("--storage-options", "{", "ls", url)
    (tmp_path / "o.h5").touch()
    assert "exists" in fails("export", url, tmp_path / "o.h5")


# ------------------------------------------------------------------ search
def test_search_expressions_match_a_plain_filter(store):
    url, walked = store
    out = json.loads(run("search", url, "sample=mouse-1", "temp>=300", "path~*raw*", "--json").stdout)
    expected = sorted(n for n, (kind, _, _, a) in walked.items()
                      if a.get("sample") == "mouse-1" and a.get("temp", 0) >= 300 and "raw" in n)
    assert [h["path"] for h in out] == expected and expected
    assert all(h["url"] == url and h["kind"] == "dataset" and h["shape"] == [6, 4] for h in out)
    twos = json.loads(run("search", url, "version=2", "--json").stdout)
    assert [h["path"] for h in twos] == sorted(n for n, (_, _, _, a) in walked.items()
                                               if str(a.get("version")) == "2")
    groups = run("search", url, "kind=group", "run").stdout.strip().splitlines()
    assert [line.split()[1] for line in groups] == ["/run0", "/run1"]
    missing = json.loads(run("search", url, "!version", "--json").stdout)
    assert [h["path"] for h in missing] == sorted(n for n, (_, _, _, a) in walked.items() if "version" not in a)
    newest = json.loads(run("search", url, "kind=dataset", "--latest", "temp", "--json").stdout)
    best = {}
    for n, (kind, _, _, a) in walked.items():
        if kind == "Dataset":
            key = n.rsplit("/", 1)[1]
            if key not in best or a["temp"] > walked[best[key]][3]["temp"]:
                best[key] = n
    assert [h["path"] for h in newest] == sorted(best.values())


def test_search_across_files_on_s3(s3_server, tmp_path):
    prefix = f"s3://{S3_BUCKET}/cli-{uuid.uuid4().hex[:8]}"
    walked = {u: make_store(f"{prefix}/{u}.h5") for u in ("one", "two")}
    out = json.loads(run("search", prefix, "sample=mouse-2", "--json").stdout)
    expected = sorted((f"{prefix}/{u}.h5", n) for u, w in walked.items()
                      for n, (_, _, _, a) in w.items() if a.get("sample") == "mouse-2")
    assert [(h["url"], h["path"]) for h in out] == expected
    assert _rows(run("ls", f"{prefix}/one.h5/run0").stdout).keys() == {"raw_a", "raw_b", "clean"}


# ----------------------------------------------------------------- reindex
def test_reindex_rebuilds_a_missing_or_stale_index(store):
    url, _ = store
    os.remove(Path(url) / SIDECAR_KEY)
    proc = run("reindex", "--check", url, ok=False)
    assert proc.returncode == 1 and "STALE" in proc.stdout
    assert "indexed 3 groups and 6 datasets" in run("reindex", url).stdout
    assert "up to date" in run("reindex", "--check", url).stdout


# ------------------------------------------------------ import, export, cp
def test_import_export_round_trip(tmp_path):
    src = make_hdf5(str(tmp_path / "src.h5"))
    url, out = str(tmp_path / "store.h5"), str(tmp_path / "back.h5")
    assert "imported" in run("import", src, url, "-j", "2").stdout
    assert "exists" in fails("import", src, url)
    assert "exported" in run("export", url, out).stdout
    assert_same_file(src, out)
    run("cp", src, str(tmp_path / "via-cp.h5"))
    run("cp", str(tmp_path / "via-cp.h5"), str(tmp_path / "copy.h5"))
    run("cp", str(tmp_path / "copy.h5"), str(tmp_path / "copy-back.h5"), "--format", "hdf5")
    assert_same_file(src, str(tmp_path / "copy-back.h5"))


def test_import_of_unsupported_objects(tmp_path):
    src = str(tmp_path / "odd.h5")
    with h5py.File(src, "w") as f:
        f["fine"] = np.arange(3)
        f.create_dataset("refs", (2,), dtype=h5py.regionref_dtype)  # region references have no store form
    message = fails("import", src, tmp_path / "a.h5")
    assert "/refs" in message and "--skip-unsupported" in message
    proc = run("import", "--skip-unsupported", src, tmp_path / "b.h5")
    assert "skipped /refs" in proc.stdout
    assert _rows(run("ls", tmp_path / "b.h5").stdout) == {"fine": ["Dataset", "(3,)", "int64"]}


def test_an_unfinished_import_is_reported(tmp_path, monkeypatch):
    src = make_hdf5(str(tmp_path / "src.h5"))
    url = str(tmp_path / "broken.h5")

    def failing(raw, nbytes):
        raise OSError("simulated failure")

    monkeypatch.setattr(hdf5_import, "zlib_to_gzip", failing)
    with pytest.raises(OSError):
        dosna_like.import_hdf5(src, url)
    proc = run("ls", url)
    assert "INCOMPLETE" in proc.stderr
    assert "INCOMPLETE" in run("info", url).stderr


# ------------------------------------------------- what a new user meets
def test_ls_and_info_follow_links_as_the_python_api_does(store, tmp_path):
    url, walked = store
    other = str(tmp_path / "other.h5")
    with dosna_like.File(other, "w") as f:
        f["far/x"] = np.arange(5, dtype="i2")
    with dosna_like.File(url, "a") as f:
        f["run0/to_run1"] = dosna_like.SoftLink("/run1")
        f["elsewhere"] = dosna_like.ExternalLink(other, "/far/x")
        f["alias"] = f["run0/raw_a"]
        expected = {name: (f[name].shape, f[name].dtype) for name in ("latest", "elsewhere", "alias")}
    assert _rows(run("ls", f"{url}/latest").stdout) == {
        "latest": ["Dataset", *str(expected["latest"][0]).split(), str(expected["latest"][1])]}
    assert _rows(run("ls", f"{url}/run0/to_run1").stdout).keys() == {"raw_a", "raw_b", "clean"}
    for name, target_url, target in [("latest", url, "/run1/clean"), ("elsewhere", other, "/far/x"),
                                     ("alias", url, "/run0/raw_a")]:
        info = json.loads(run("info", "--json", f"{url}/{name}").stdout)
        assert (info["url"], info["path"]) == (target_url, target)
        assert (tuple(info["shape"]), info["dtype"]) == (expected[name][0], str(expected[name][1]))
    hits = json.loads(run("search", f"{url}/run0/to_run1", "kind=dataset", "--json").stdout)
    assert [h["path"] for h in hits] == ["/run1/clean", "/run1/raw_a", "/run1/raw_b"]
    assert "no such object" in fails("info", f"{url}/run0/nothing")


def test_search_mistakes_are_errors_and_no_matches_is_not(store, tmp_path):
    url, walked = store
    h5 = tmp_path / "plain.h5"
    with h5py.File(h5, "w") as f:
        f["x"] = np.arange(3)
    assert "no dosna_like file" in fails("search", tmp_path / "missing", "sample=mouse-1")
    assert "/nothing" in fails("search", f"{url}/nothing", "sample=mouse-1")
    proc = run("search", h5, "x=1")  # an HDF5 file is searched in place: no matches, not an error
    assert proc.stdout == "" and proc.stderr == "dosna-like: no matches\n"
    assert "did you mean 'temp>=300'" in fails("search", url, "temp=>300")
    assert "did you mean 'temp<=300'" in fails("search", url, "temp=<300")
    numbers = fails("search", url, "temp>abc")
    assert "temp" in numbers and "number" in numbers and "'abc'" in numbers
    assert "text" in fails("search", url, "sample<3")
    for ok in (["sample=nobody"], ["temp>1e9"], ['version="<2"']):  # valid queries that match nothing
        proc = run("search", url, *ok)
        assert proc.stdout == "" and proc.stderr == "dosna-like: no matches\n"
    assert json.loads(run("search", url, "sample=nobody", "--json").stdout) == []


def test_search_of_a_missing_bucket_is_an_error(s3_server):
    assert "no dosna_like file" in fails("search", f"s3://no-such-bucket-{uuid.uuid4().hex[:8]}/runs", "a=1")
    assert "no dosna_like file" in fails("search", f"s3://{S3_BUCKET}/no-such-prefix-{uuid.uuid4().hex[:8]}", "a=1")


def _tree_counts(path: str) -> tuple:
    """(groups, datasets, links) of an HDF5 file as h5py walks it (root not counted)."""
    groups = datasets = links = 0
    seen = set()
    with h5py.File(path, "r") as f:
        def visit(name, link) -> None:
            nonlocal groups, datasets, links
            if isinstance(link, (h5py.SoftLink, h5py.ExternalLink)):
                links += 1
                return
            obj = f[name]
            info = h5py.h5o.get_info(obj.id)
            key = (info.fileno, info.addr)
            if key in seen:  # a second name of an object: a hard link
                links += 1
                return
            seen.add(key)
            if isinstance(obj, h5py.Group):
                groups += 1
            elif isinstance(obj, h5py.Dataset):
                datasets += 1

        f.visititems_links(visit)
    return groups, datasets, links


def test_import_cp_and_export_count_the_same_tree_the_same(tmp_path):
    src = make_hdf5(str(tmp_path / "src.h5"))
    with h5py.File(src, "a") as f:
        f["types/named"] = np.dtype("<i4")  # a committed datatype: neither a group nor a dataset
    groups, datasets, links = _tree_counts(src)
    expected = f": {groups} groups, {datasets} datasets, {links} links,"
    store_url, copy_url = str(tmp_path / "store.h5"), str(tmp_path / "copy.h5")
    for proc in (run("import", src, store_url), run("cp", store_url, copy_url),
                 run("export", copy_url, tmp_path / "back.h5"), run("cp", src, tmp_path / "via-cp.h5")):
        assert expected in proc.stdout, (expected, proc.stdout)


def test_info_shows_attribute_values_not_their_stored_encoding(tmp_path):
    url = str(tmp_path / "attrs.h5")
    values = {"bytes_attr": np.bytes_(b"raw bytes"), "binary": b"\xffraw", "comment": "\u00fcn\u00efcode text",
              "pair": 1 + 2j, "missing": np.nan, "names": np.array(["a", "b\u00e9"], dtype=dosna_like.string_dtype())}
    with dosna_like.File(url, "w") as f:
        f.attrs.update(values)
        read = {name: f.attrs[name] for name in values}  # what the Python API hands back
    text = run("info", url).stdout
    lines = {line.split(" = ", 1)[0].strip(): line.split(" = ", 1)[1] for line in text.splitlines() if " = " in line}
    assert lines["bytes_attr"] == repr(bytes(read["bytes_attr"])) == "b'raw bytes'"
    # bytes that are not UTF-8 read back as h5py gives them, str with surrogate escapes; shown as the bytes
    assert read["binary"] == "\udcffraw" and lines["binary"] == "b'\\xffraw'"
    assert lines["comment"] == f'"{read["comment"]}"'
    assert lines["pair"] == repr(complex(read["pair"])) and lines["missing"] == "nan"
    assert lines["names"] == '["a", "b\u00e9"]'
    assert "base64" not in text and "\\u" not in text
    attrs = json.loads(run("info", "--json", url).stdout)["attrs"]
    assert attrs["bytes_attr"] == "raw bytes" and attrs["comment"] == read["comment"]
    assert attrs["binary"] == "base64:" + base64.b64encode(b"\xffraw").decode()


def test_transfer_errors_are_one_clear_line(store, tmp_path):
    url, _ = store
    src = make_hdf5(str(tmp_path / "src.h5"))
    assert "not an HDF5 file" in fails("import", url, tmp_path / "a.h5")  # a store given as the source
    assert "No such HDF5 file" in fails("import", tmp_path / "missing.h5", tmp_path / "b.h5")
    (tmp_path / "notes.txt").write_text("not HDF5")
    assert "Not an HDF5 file" in fails("import", tmp_path / "notes.txt", tmp_path / "c.h5")
    message = fails("export", url, tmp_path / "no-such-dir" / "x.h5")
    assert "No such directory" in message and "partial" not in message
    assert not (tmp_path / "a.h5").exists() and not (tmp_path / "c.h5").exists()
    run("import", src, tmp_path / "d.h5")


def test_overwrite_hint_storage_options_anywhere_and_version(store, tmp_path):
    url, _ = store
    src = make_hdf5(str(tmp_path / "src.h5"))
    run("import", src, tmp_path / "s.h5")
    assert "--overwrite" in fails("import", src, tmp_path / "s.h5")
    assert "--overwrite" in fails("cp", url, tmp_path / "s.h5")
    assert "--overwrite" in fails("export", url, src)
    run("import", src, tmp_path / "s.h5", "--overwrite")
    options = '{"auto_mkdir": true}'
    assert run("ls", url, "--storage-options", options).stdout == run("--storage-options", options, "ls", url).stdout
    assert "not JSON" in fails("ls", url, "--storage-options", "{")
    assert run("--version").stdout.strip() == f"dosna-like {dosna_like.__version__}"

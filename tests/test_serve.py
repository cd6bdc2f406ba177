"""``dosna-like serve``: h5grove's API against h5grove itself on real h5py, and h5web's page in Chromium.

The same file is written with h5py, then served three ways: read in place
(the ``.h5`` file), imported into a local store, and imported into the local
S3 endpoint.  Each endpoint's answer is compared with what h5grove's own
code returns for that file opened with real h5py (the reference server's
view).  The server runs as users run it: ``dosna-like serve URL --port 0``
in a subprocess.  The browser test drives Debian's Chromium with
playwright; a missing Chromium fails the test (``make test`` installs it).
"""
from __future__ import annotations

import json
from pathlib import Path
import re
import shutil
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
import uuid

import h5py
import numpy as np
import pytest

# the reference: h5grove bound to the real h5py (imported before anything could bind it to dosna_like)
from h5grove.content import create_content
from h5grove.encoders import encode
from h5grove.utils import get_array_stats

import dosna_like
import dosna_like.cli
from dosna_like.serve.limits import (MAX_ELEMENTS, PLANE_ELEMENTS, SelectionError, TooLargeError,
                                     decimation_steps, map_selection, view_shape)

from .conftest import S3_BUCKET

SCRIPT = Path(sys.executable).with_name("dosna-like")
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
BIG = (3000, 2500)  # 7.5 M elements: a plane over PLANE_ELEMENTS, shown decimated


def make_reference(path: Path) -> Path:
    rng = np.random.default_rng(19)
    with h5py.File(path, "w") as f:
        f.attrs["title"] = "serve test"
        f.attrs["version"] = 3
        raw = f.create_group("raw")
        raw.attrs["sample"] = "mouse-1"
        raw.attrs["temp"] = 300.5
        raw.attrs["flags"] = np.array([1, 2, 3], dtype="i2")
        img = raw.create_dataset("image", data=rng.random((120, 90), dtype="f4"), chunks=(40, 30),
                                 compression="gzip", shuffle=True)
        img.attrs["units"] = "K"
        raw.create_dataset("line", data=np.sin(np.arange(1000) / 30.0))
        raw.create_dataset("cube", data=rng.integers(0, 255, (4, 30, 20), dtype="u1"), chunks=(1, 30, 20))
        raw.create_dataset("big_endian", data=np.arange(50, dtype=">i4"), chunks=(25,))
        raw.create_dataset("mask", data=np.arange(20) % 3 == 0, chunks=(10,))
        raw.create_dataset("codes", data=np.array([b"ab", b"cde", b"f"], dtype="S3"), chunks=(3,))
        raw.create_dataset("scalar", data=np.int64(7))
        raw.create_dataset("names", data=["a", "bé", "cde"], dtype=h5py.string_dtype())  # in place: read via h5py
        compact = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
        compact.set_layout(h5py.h5d.COMPACT)  # the data in the object header
        h5py.h5d.create(raw.id, b"compact", h5py.h5t.STD_I16LE, h5py.h5s.create_simple((5,)), dcpl=compact)
        raw["compact"][...] = np.arange(5, dtype="i2") - 2
        big = f.create_dataset("big", shape=BIG, dtype="u1", chunks=(500, 500), compression="gzip")
        big[:, :] = (np.arange(BIG[1]) % 251).astype("u1")[None, :]
        f["latest"] = h5py.SoftLink("/raw/image")
        f["dangling"] = h5py.SoftLink("/nowhere")
        f["outside"] = h5py.ExternalLink("../../etc/passwd.h5", "/secret")
    return path


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    return make_reference(tmp_path_factory.mktemp("serve") / "run.h5")


class Server:
    """``dosna-like serve URL --port 0`` in a subprocess, stopped at the end."""

    def __init__(self, url: str, cwd: Path | None = None):
        assert SCRIPT.exists(), f"console script {SCRIPT.name} is not installed"
        self.url = url
        self.proc = subprocess.Popen([str(SCRIPT), "serve", url, "--port", "0"], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, cwd=cwd)
        line = self.proc.stdout.readline()
        if " at http" not in line:
            self.stop()
            raise AssertionError(f"the server did not start: {line!r} {self.proc.stderr.read()}")
        self.address = line.split(" at ")[1].split()[0]

    def get(self, endpoint: str, **params) -> tuple:
        url = self.address + endpoint + ("?" + urllib.parse.urlencode(params, doseq=True) if params else "")
        try:
            with urllib.request.urlopen(url, timeout=60) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    def json(self, endpoint: str, **params):
        status, body = self.get(endpoint, **params)
        assert status == 200, (endpoint, params, status, body[:300])
        return json.loads(body)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture(scope="module", params=["hdf5", "local", "s3"])
def served(request, reference, tmp_path_factory):
    """(server, file name, store kind) for the reference file served one way."""
    kind = request.param
    if kind == "hdf5":
        url, name = str(reference), reference.name
    elif kind == "local":
        url = str(tmp_path_factory.mktemp("store") / "run.dosna")
        dosna_like.import_hdf5(str(reference), url, progress=False)
        name = "run.dosna"
    else:
        request.getfixturevalue("s3_server")
        name = f"run-{uuid.uuid4().hex[:8]}.dosna"
        url = f"s3://{S3_BUCKET}/{name}"
        dosna_like.import_hdf5(str(reference), url, progress=False)
    server = Server(url)
    yield server, name, kind
    server.stop()


PATHS = ["/", "/raw", "/raw/image", "/raw/line", "/raw/cube", "/raw/big_endian", "/raw/mask", "/raw/codes",
         "/raw/scalar", "/raw/names", "/latest", "/dangling", "/outside"]


def _served_meta(server: Server, name: str, path: str) -> dict:
    """The server's metadata without what h5grove does not give: a dataset's stored
    size (compared in test_stored_size_matches_info_and_h5py)."""
    meta = server.json("api/meta", file=name, path=path)
    assert ("storage" in meta) == (meta["kind"] == "dataset"), meta
    meta.pop("storage", None)
    return _without_chunks(meta)


def _reference_meta(h5file, path: str) -> dict:
    """h5grove's metadata on real h5py, with what a served store does differently
    on purpose: the big dataset is shown decimated."""
    meta = json.loads(encode(create_content(h5file, path).metadata()).content)
    return _without_chunks(_decimate_big(meta))


def _decimate_big(meta: dict) -> dict:
    meta = dict(meta)
    if meta.get("kind") == "dataset" and meta.get("name") == "big":
        steps = decimation_steps(BIG)
        meta.update(shape=list(view_shape(BIG, steps)), chunks=None,
                    decimated={"shape": list(BIG), "steps": list(steps)})
    if "children" in meta:
        meta["children"] = [_decimate_big(c) for c in meta["children"]]
    return meta


def _without_chunks(meta: dict) -> dict:
    """Every dataset of a store is chunked, where a contiguous HDF5 dataset has no
    chunks (compared separately in test_chunks_are_reported)."""
    meta = dict(meta)
    if meta.get("kind") == "dataset":
        meta.pop("chunks", None)
    if "children" in meta:
        meta["children"] = [_without_chunks(c) for c in meta["children"]]
    return meta


def test_the_comparison_catches_planted_differences(reference):
    with h5py.File(reference, "r") as f:
        expected = _reference_meta(f, "/raw")
        image = json.loads(encode(create_content(f, "/raw/image").metadata()).content)
    assert _without_chunks(expected) == expected
    planted = json.loads(json.dumps(expected))
    planted["children"][0]["type"]["size"] += 1
    assert _without_chunks(planted) != expected
    assert _without_chunks({**image, "shape": [1, 1]}) != _without_chunks(image)
    assert _decimate_big({"kind": "dataset", "name": "big", "shape": list(BIG)})["shape"] != list(BIG)


@pytest.mark.parametrize("path", PATHS)
def test_meta_matches_h5grove_on_h5py(served, reference, path):
    server, name, _kind = served
    got = _served_meta(server, name, path)
    with h5py.File(reference, "r") as f:
        assert got == _reference_meta(f, path)


def test_chunks_are_reported(served, reference):
    server, name, _kind = served
    with h5py.File(reference, "r") as f:
        for path in ("/raw/image", "/raw/cube"):
            assert server.json("api/meta", file=name, path=path)["chunks"] == list(f[path].chunks)
        assert server.json("api/meta", file=name, path="/big")["chunks"] is None  # not the view's


DATASETS = ["/raw/image", "/raw/line", "/raw/cube", "/raw/big_endian", "/raw/mask", "/raw/codes", "/raw/scalar",
            "/raw/names", "/raw/compact", "/big"]


def test_stored_size_matches_info_and_h5py(served, reference, capsys):
    """The page's stored size is ``dosna-like info``'s; read in place, it is the bytes
    HDF5 itself has stored (``get_storage_size``)."""
    server, name, kind = served
    with h5py.File(reference, "r") as f:
        for path in DATASETS + ["/latest"]:
            got = server.json("api/meta", file=name, path=path)["storage"]
            target = f[path].name  # a soft link's target: info follows it too
            assert dosna_like.cli.main(["info", server.url + target, "--json"]) == 0
            info = json.loads(capsys.readouterr().out)
            assert got == {k: info[k] for k in ("stored_bytes", "chunks_stored", "nbytes", "ratio")}, path
            assert got["nbytes"] == f[path].nbytes
            assert got["stored_bytes"] > 0
            if kind == "hdf5":
                assert got["stored_bytes"] == f[path].id.get_storage_size(), path
        assert server.json("api/meta", file=name, path="/raw/image")["storage"]["ratio"] > 1  # gzip on random floats
        assert "storage" not in server.json("api/meta", file=name, path="/raw")["children"][0]  # no listing per child


@pytest.mark.parametrize("path", ["/", "/raw", "/raw/image", "/latest"])
def test_attr_matches_h5grove_on_h5py(served, reference, path):
    server, name, _kind = served
    with h5py.File(reference, "r") as f:
        content = create_content(f, path)
        expected = json.loads(encode(content.attributes()).content)
        assert server.json("api/attr", file=name, path=path) == expected
        if expected:
            key = sorted(expected)[0]
            assert server.json("api/attr", file=name, path=path, attr_keys=key) == {key: expected[key]}


DATA_CASES = [
    ("/raw/image", None), ("/raw/image", "3:50,10:20"), ("/raw/image", "7"), ("/raw/image", "::7,5"),
    ("/raw/line", None), ("/raw/line", "100:900:13"), ("/raw/cube", "2,:,:"), ("/raw/cube", "1"),
    ("/raw/big_endian", None), ("/raw/mask", None), ("/raw/codes", None), ("/raw/scalar", None), ("/raw/names", None),
    ("/latest", "0:2"),
]


@pytest.mark.parametrize("path,selection", DATA_CASES)
def test_data_matches_h5grove_on_h5py(served, reference, path, selection):
    server, name, _kind = served
    params = {"file": name, "path": path, **({"selection": selection} if selection else {})}
    with h5py.File(reference, "r") as f:
        content = create_content(f, path)
        expected = content.data(selection)
        if isinstance(expected, np.ndarray) and expected.dtype.byteorder == ">":
            expected = expected.astype(expected.dtype.newbyteorder("="))  # h5grove's JSON encoder takes native order
        assert server.json("api/data", **params) == json.loads(encode(expected).content)
        if content._h5py_entity.dtype.kind in "biuf":
            for fmt in ("bin", "npy"):
                status, body = server.get("api/data", format=fmt, dtype="safe", flatten="true", **params)
                assert status == 200
                assert body == encode(content.data(selection, flatten=True, dtype="safe"), fmt).content
            stats = server.json("api/stats", **params)
            assert stats == pytest.approx(json.loads(encode(get_array_stats(np.asarray(expected))).content))


def test_big_dataset_is_decimated(served, reference):
    server, name, _kind = served
    steps = decimation_steps(BIG)
    shape = view_shape(BIG, steps)
    assert np.prod(shape) <= PLANE_ELEMENTS < np.prod(BIG)
    status, body = server.get("api/data", file=name, path="/big", format="npy")
    assert status == 200
    got = np.load(__import__("io").BytesIO(body))
    with h5py.File(reference, "r") as f:
        np.testing.assert_array_equal(got, f["big"][::steps[0], ::steps[1]])
        row = server.json("api/data", file=name, path="/big", selection=f"{shape[0] - 1},10:20")
        assert row == f["big"][(shape[0] - 1) * steps[0], 10 * steps[1]:20 * steps[1]:steps[1]].tolist()


def test_paths_match_h5grove_links_visit(served, reference):
    server, name, _kind = served
    expected = []
    with h5py.File(reference, "r") as f:
        f.id.links.visit(lambda n: expected.append("/" + n.decode()))
    assert server.json("api/paths", file=name, path="/") == ["/"] + expected
    assert server.json("api/paths", file=name, path="/raw") == ["/raw"] + [p for p in expected if p.startswith("/raw/")]


def test_files_and_search(served):
    server, name, _kind = served
    assert server.json("api/files")["files"] == [name]
    hits = server.json("api/search", q="sample=mouse-1")["hits"]
    assert [(h["file"], h["path"], h["kind"]) for h in hits] == [(name, "/raw", "group")]
    hits = server.json("api/search", q="kind=dataset ndim=2")["hits"]
    assert sorted(h["path"] for h in hits) == ["/big", "/raw/image"]
    assert server.json("api/search", q="temp>=301")["hits"] == []
    status, body = server.get("api/search", q="temp=>300")
    assert status == 400 and b"did you mean" in body


@pytest.mark.parametrize("params,status", [
    ({"path": "/nowhere"}, 404),
    ({"path": "/données/☃"}, 404),
    ({"path": "/raw/nowhere/deeper"}, 404),
    ({"path": "/raw/../raw"}, 400),
    ({"path": "raw"}, 400),
    ({"path": "/outside/secret"}, 404),  # through an external link: never followed
    ({"file": "../run.h5", "path": "/"}, 404),
    ({"file": "/etc/passwd", "path": "/"}, 404),
    ({"file": "s3://other/bucket", "path": "/"}, 404),
])
def test_traversal_and_missing_nodes_are_refused(served, params, status):
    server, name, _kind = served
    got, body = server.get("api/meta", **{"file": name, **params})
    assert got == status, body
    assert set(json.loads(body)) == {"message"}
    assert b"Traceback" not in body


@pytest.mark.parametrize("selection,fragment", [
    ("0:2,0:2,0:2", b"members"), ("500", b"out of range"), ("a:b", b"invalid literal"),
    ("::-1", b"step must be positive"),
])
def test_bad_selections_are_400(served, selection, fragment):
    server, name, _kind = served
    status, body = server.get("api/data", file=name, path="/raw/image", selection=selection)
    assert status == 400 and fragment in body, body


def test_oversized_requests_are_refused(served):
    server, name, _kind = served
    big_rows = view_shape(BIG, decimation_steps(BIG))[0]
    status, body = server.get("api/data", file=name, path="/big", selection=f"0:{big_rows},0:1")
    assert status == 200
    # the decimated view stays in bounds; a plane along other axes beyond MAX_ELEMENTS is refused
    members = (slice(None), slice(None), slice(None))
    with pytest.raises(TooLargeError):
        map_selection(members, (4096, 4096, 4), (1, 1, 1), 1)
    status, body = server.get("api/data", file=name, path="/raw/line", selection="0:10")
    assert status == 200


def test_read_only_and_other_hosts_refused(served):
    server, name, _kind = served
    request = urllib.request.Request(server.address + "api/meta?" + urllib.parse.urlencode({"file": name}),
                                     method="POST", data=b"x")
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(request, timeout=30)
    assert info.value.code == 405
    request = urllib.request.Request(server.address + "api/files", headers={"Host": "evil.example:80"})
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(request, timeout=30)
    assert info.value.code == 403


def test_page_is_served_from_the_package(served):
    server, _name, _kind = served
    status, page = server.get("")
    assert status == 200 and b'<div id="root">' in page
    assets = [part.split('"')[0] for part in page.decode().split('./assets/')[1:]]
    assert assets and all(server.get("assets/" + a)[0] == 200 for a in assets)
    assert b"http://" not in page and b"https://" not in page  # nothing fetched from elsewhere


def test_enum_types_match_h5grove_on_h5py(tmp_path):
    """Enum datasets (one big-endian, one chunked) and enum attributes, written by
    h5py, served in place and from a store, against h5grove on the same file
    (an enum attribute's type too, its members included)."""
    colours = h5py.enum_dtype({"RED": 0, "GREEN": 1, "BLUE": 42}, basetype="u1")
    switch = h5py.enum_dtype({"OFF": -1, "ON": 1}, basetype=">i2")
    path = tmp_path / "enums.h5"
    with h5py.File(path, "w") as f:
        colour = f.create_dataset("colour", data=np.array([0, 1, 42, 1], dtype="u1"), dtype=colours)
        f.create_dataset("switch", data=np.array([-1, 1, 1], dtype=">i2"), dtype=switch, chunks=(2,))
        colour.attrs.create("state", 42, dtype=colours)
        colour.attrs.create("states", np.array([1, -1], dtype="i2"), dtype=h5py.enum_dtype({"OFF": -1, "ON": 1}))
    dosna_like.import_hdf5(str(path), str(tmp_path / "enums.dosna"), progress=False)
    for url in (path, tmp_path / "enums.dosna"):
        server = Server(str(url))
        try:
            with h5py.File(path, "r") as f:
                for node in ("/colour", "/switch"):
                    reference = _without_chunks(json.loads(encode(create_content(f, node).metadata()).content))
                    got = _served_meta(server, url.name, node)
                    for meta in (reference, got):
                        meta["attributes"] = {a["name"]: a for a in meta["attributes"]}
                    assert got["type"] == reference["type"] and reference["type"]["class"] == 8  # H5T_ENUM
                    for attr, expected in reference["attributes"].items():
                        assert got["attributes"][attr] == expected
                    assert {k: v for k, v in got.items() if k != "attributes"} == \
                        {k: v for k, v in reference.items() if k != "attributes"}
                    content = create_content(f, node)
                    assert server.json("api/attr", file=url.name, path=node) == \
                        json.loads(encode(content.attributes()).content)
                    expected = content.data(None)
                    assert server.json("api/data", file=url.name, path=node) == expected.tolist()
        finally:
            server.stop()


# ------------------------------------------------------------- pure limits
@pytest.mark.parametrize("shape", [(10,), (5000, 5000), (3, 10_000_000), (20_000_000,), (7, 3000, 2500), ()])
def test_decimation_bounds_the_plane(shape):
    steps = decimation_steps(shape)
    view = view_shape(shape, steps)
    assert len(steps) == len(shape)
    if shape:
        assert np.prod(view[-2:]) <= PLANE_ELEMENTS
        assert view[:-2] == shape[:-2]
        if np.prod(shape[-2:]) <= PLANE_ELEMENTS:
            assert view == shape


def test_map_selection_matches_numpy_on_the_strided_view():
    full = np.arange(97 * 45).reshape(97, 45)
    steps = (4, 3)
    view = full[::4, ::3]
    for members in [(), (5,), (-1,), (slice(2, 9), slice(None)), (slice(1, None, 2), 4), (slice(0, 0),)]:
        sel = map_selection(members, full.shape, steps, full.itemsize)
        np.testing.assert_array_equal(full[sel.key], view[members])
        assert sel.count == view[members].size
    with pytest.raises(SelectionError):
        map_selection((25,), full.shape, steps, 8)
    with pytest.raises(TooLargeError):
        map_selection((), (MAX_ELEMENTS + 1,), (1,), 1)


# ------------------------------------------------------------------ browser
def _chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    assert path, "Chromium is not installed: `make test` installs it (apt-get install -y chromium)"
    return path


def _export_npy(page, tmp_path: Path) -> np.ndarray:
    """What the page's export menu downloads as .npy for the plot shown, loaded with numpy."""
    export = page.get_by_role("button", name=re.compile(r"^Export( slice)?$")).locator("visible=true")
    more = page.get_by_role("button", name="More controls").locator("visible=true")
    export.or_(more).first.wait_for(timeout=60_000)  # the toolbar laid out (a loaded machine is slow)
    if not export.count():  # a narrow toolbar folds it into its "More controls" menu
        more.click()
    export.click(timeout=60_000)
    with page.expect_download(timeout=60_000) as download:
        page.get_by_role("button", name="Export to NPY").click()
    saved = tmp_path / f"export-{uuid.uuid4().hex[:8]}.npy"
    download.value.save_as(saved)
    return np.load(saved)


def _ordinal(k: int) -> str:
    return f"{k}{'th' if 11 <= k % 100 <= 13 else {1: 'st', 2: 'nd', 3: 'rd'}.get(k % 10, 'th')}"


def test_page_in_headless_chromium(reference, tmp_path):
    """One browser run, on a local store (the page does not depend on the store kind):
    the tree, plots, the .npy export of the plotted slice, the decimation note, the
    stored size, and the search box."""
    from playwright.sync_api import sync_playwright  # the browser driver: only this test needs it

    dosna_like.import_hdf5(str(reference), str(tmp_path / "run.dosna"), progress=False)
    server = Server("run.dosna", cwd=tmp_path)  # relative, as a user types it (and as the screenshot shows it)
    steps = decimation_steps(BIG)
    assert steps == (2, 2)  # the note below is written for equal steps on both axes
    decimated = f"every {_ordinal(steps[0])} point along axes 0 and 1 of {BIG[0]} × {BIG[1]}"
    errors = []
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p, h5py.File(reference, "r") as f:
        browser = p.chromium.launch(executable_path=_chromium(), headless=True,
                                    args=["--no-sandbox", "--disable-gpu", "--use-gl=swiftshader",
                                          "--enable-unsafe-swiftshader"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 800}, accept_downloads=True)
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("response", lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 400 else None)
            page.on("request", lambda r: errors.append(f"request elsewhere: {r.url}")
                    if not r.url.startswith(server.address) and not r.url.startswith(("data:", "blob:")) else None)
            page.goto(server.address)
            page.get_by_role("treeitem", name="raw").first.wait_for(timeout=60_000)
            page.get_by_role("treeitem", name="raw").first.click()
            page.get_by_role("treeitem", name="image").first.click()
            page.locator("canvas").first.wait_for(timeout=60_000)
            page.wait_for_timeout(1500)
            assert page.locator("canvas").count() >= 1
            page.get_by_role("treeitem", name="line").first.click()
            page.locator("canvas, svg").first.wait_for(timeout=60_000)
            page.get_by_role("treeitem", name="image").first.click()
            page.wait_for_timeout(1500)
            page.screenshot(path=str(ARTIFACTS / "serve-heatmap.png"))
            np.testing.assert_array_equal(_export_npy(page, tmp_path), f["raw/image"][()])

            with page.expect_response(lambda r: "/api/data?" in r.url and "%2Fraw%2Fcube" in r.url, timeout=60_000):
                page.get_by_role("treeitem", name="cube").first.click()  # a heatmap of the slice cube[0]
            page.wait_for_timeout(1000)
            np.testing.assert_array_equal(_export_npy(page, tmp_path), f["raw/cube"][0])

            page.get_by_role("treeitem", name="big").first.click()
            page.get_by_text(f"big (decimated: {decimated})", exact=True).wait_for(timeout=60_000)
            np.testing.assert_array_equal(_export_npy(page, tmp_path), f["big"][::steps[0], ::steps[1]])
            page.wait_for_timeout(1000)
            page.screenshot(path=str(ARTIFACTS / "serve-decimated.png"))

            page.get_by_role("tab", name="Inspect", exact=True).click()
            storage = server.json("api/meta", path="/big")["storage"]
            stored = page.get_by_test_id("stored-size")
            page.get_by_text(f"ratio {storage['ratio']})").wait_for(timeout=30_000)
            assert stored.get_attribute("title") == f"{storage['stored_bytes']} bytes stored"
            assert stored.inner_text().startswith(f"{storage['stored_bytes'] / 1024:.1f} KiB in "
                                                  f"{storage['chunks_stored']} objects, for 7.2 MiB")
            assert page.get_by_test_id("decimated").inner_text() == f"decimated on the server: {decimated}"
            page.screenshot(path=str(ARTIFACTS / "serve-inspect.png"))
            page.get_by_role("tab", name="Display", exact=True).click()

            page.get_by_role("textbox", name="search", exact=True).fill("sample=mouse-1")
            page.get_by_role("button", name="Search", exact=True).click()
            hit = page.get_by_test_id("hits").get_by_role("button", name="run.dosna:/raw")
            hit.wait_for(timeout=30_000)
            hit.click()  # opens the hit: the tree selects it
            page.get_by_role("treeitem", name="raw", selected=True).wait_for(timeout=30_000)
        finally:
            browser.close()
            server.stop()
    assert errors == []


# ------------------------------------------------- several files, memory://
def test_a_prefix_of_several_files(tmp_path, reference):
    folder = tmp_path / "runs"
    folder.mkdir()
    shutil.copy(reference, folder / "in_place.h5")
    dosna_like.import_hdf5(str(reference), str(folder / "day1.dosna"), progress=False)
    with dosna_like.File(str(folder / "day2.dosna"), "w") as f:
        f.create_dataset("other", data=np.arange(6).reshape(2, 3)).attrs["sample"] = "mouse-2"
    server = Server(str(folder))
    try:
        assert sorted(server.json("api/files")["files"]) == ["day1.dosna", "day2.dosna", "in_place.h5"]
        assert server.json("api/data", file="day2.dosna", path="/other") == [[0, 1, 2], [3, 4, 5]]
        with h5py.File(reference, "r") as f:
            for name in ("day1.dosna", "in_place.h5"):
                assert _served_meta(server, name, "/raw") == _reference_meta(f, "/raw")
        hits = server.json("api/search", q="sample~mouse-*")["hits"]
        assert sorted((h["file"], h["path"]) for h in hits) == [
            ("day1.dosna", "/raw"), ("day2.dosna", "/other"), ("in_place.h5", "/raw")]
        status, body = server.get("api/meta", path="/")  # which file? several are served
        assert status == 400 and b"several" in body
        status, _ = server.get("api/meta", file="runs/day1.dosna", path="/")
        assert status == 404
    finally:
        server.stop()


def test_memory_store_served_in_process():
    """memory:// lives in one process: the server runs in this one, on a thread."""
    import asyncio  # only this test runs a server in the test process
    import threading

    import tornado.httpserver
    import tornado.netutil

    from dosna_like.serve import grove
    from dosna_like.serve.server import make_app
    from dosna_like.serve.sources import Served
    import h5grove.content

    assert h5grove.content.h5py is h5py  # the process's h5grove is still bound to the real h5py
    assert grove.grove_content is not h5grove.content

    url = f"memory://serve-{uuid.uuid4().hex[:8]}/run.h5"
    data = np.arange(24, dtype="f8").reshape(4, 6)
    with dosna_like.File(url, "w") as f:
        f.create_dataset("grid", data=data, chunks=(2, 3)).attrs["sample"] = "mouse-3"
    started, state = threading.Event(), {}

    def run():
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        sockets = tornado.netutil.bind_sockets(0, "127.0.0.1")
        server = tornado.httpserver.HTTPServer(make_app(Served(url)))
        server.add_sockets(sockets)
        state.update(loop=loop, port=sockets[0].getsockname()[1])
        started.set()
        loop.run_forever()
        server.stop()
        loop.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert started.wait(30)
    try:
        base = f"http://127.0.0.1:{state['port']}/api/"
        with urllib.request.urlopen(base + "data?file=run.h5&path=/grid&selection=1:3,2") as r:
            assert json.loads(r.read()) == data[1:3, 2].tolist()
        with urllib.request.urlopen(base + "meta?file=run.h5&path=/grid") as r:
            meta = json.loads(r.read())
        assert (meta["shape"], meta["chunks"], meta["type"]["dtype"]) == ([4, 6], [2, 3], "<f8")
        with urllib.request.urlopen(base + "attr?file=run.h5&path=/grid") as r:
            assert json.loads(r.read()) == {"sample": "mouse-3"}
    finally:
        state["loop"].call_soon_threadsafe(state["loop"].stop)
        thread.join(30)

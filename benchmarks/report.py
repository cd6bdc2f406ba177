"""Ratios, results.json, results.md and the PNG bar plots."""
from __future__ import annotations

import json
import os
import statistics
from dataclasses import asdict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter  # noqa: E402


IO_CONCURRENCY = 32  # dosna_like's default requests in flight (storage.base.DEFAULT_IO_CONCURRENCY)

QUICK_NOTE = ("This is the quick benchmark: a 64 MiB dataset and 3 repetitions, easily swayed by other "
              "work on the machine. The figures in the README come from the full benchmark: "
              "`make bench` (or `.venv/bin/python benchmarks/run.py`, about 15 minutes on an idle machine).")


def add_ratios(rows) -> None:
    """speedup vs X = t_X / t_peer for rows of the same case and variant."""
    reference = {(r.case, r.variant, r.peer): r.median for r in rows}
    for row in rows:
        if row.median is None:
            continue
        for ref, attr in (("h5py", "speedup_vs_h5py"), ("zarr", "speedup_vs_zarr"),
                          ("tensorstore", "speedup_vs_tensorstore")):
            t_ref = reference.get((row.case, row.variant, ref))
            if t_ref is not None and row.median > 0:
                setattr(row, attr, t_ref / row.median)


def write_json(path, machine, config, rows, memory, extra) -> None:
    doc = {"machine": machine, "config": config, **extra,
           "results": [asdict(r) for r in rows], "memory": memory}
    with open(path, "w") as fh:
        json.dump(doc, fh, indent=1, default=str)


# ------------------------------------------------------------------ markdown
def _fmt_value(value, unit) -> str:
    if value is None:
        return "n/a"
    if unit == "us":
        return f"{value:,.1f} µs" if value < 1000 else f"{value / 1e3:,.2f} ms"
    return f"{value * 1e3:,.1f} ms" if value < 1 else f"{value:,.2f} s"


def _fmt_ratio(ratio) -> str:
    if ratio is None:
        return "—"
    if ratio >= 100:
        return f"{ratio:,.0f}×"
    return f"{ratio:.2f}×" if ratio >= 0.1 else f"{ratio:.2g}×"


def _fmt_rate(row) -> str:
    if row.median is None or not row.nbytes or row.unit != "s":
        return ""
    return f"{row.nbytes / row.median / 1e6:,.0f}"


def _fmt_details(row) -> str:
    """Counters a case recorded (requests, fetches in flight), medians over repetitions."""
    parts = []
    for key, values in row.extra.items():
        if key == "reads":
            continue
        if values and isinstance(values[0], dict):  # requests by HTTP method
            methods = sorted({m for v in values for m in v})
            parts.append(" ".join(f"{m} {statistics.median(v.get(m, 0) for v in values):g}"
                                  for m in methods) or "no requests")
        elif values:
            parts.append(f"{key.replace('_', ' ')} {statistics.median(values):g}")
    return ", ".join(parts)


def _row(rows, case, variant, peer):
    return next((r for r in rows if (r.case, r.variant, r.peer) == (case, variant, peer)), None)


def paired_ratios(num, den) -> list:
    """Per-repetition ratios ``num.times[i] / den.times[i]``: within a repetition the
    peers run back to back, so one repetition's ratio is one measurement of it."""
    if num is None or den is None or len(num.times) != len(den.times):
        return []
    return [a / b for a, b in zip(num.times, den.times) if b]


def verdict(value, runs, target, higher_is_better=True) -> str:
    """'yes' / 'no' when every repetition agrees with the median, else 'noisy'
    (the repetitions fall on both sides of the target: a busy machine)."""
    def met(v):
        return v >= target if higher_is_better else v <= target
    if value is None:
        return "n/a"
    if runs and len({met(r) for r in runs}) > 1:
        return "noisy"
    return "yes" if met(value) else "no"


def _spread(runs, fmt) -> str:
    return f" ({fmt(min(runs))}–{fmt(max(runs))})" if len(runs) > 1 else ""


def goals(rows, memory) -> list:
    """The performance goals (issues 6 and 16), each as (goal, measured, status, bound):
    ``measured`` is the median with the range of the per-repetition ratios,
    ``status`` is yes / no / noisy (see :func:`verdict`), ``bound`` the most the
    machine floor of this run allows (the "none" full reads: t_ref / t_floor[2 threads]),
    else None."""
    out = []

    def floor_of(case, variant):
        """The machine-floor row of a case (read_full none: 2 threads; many_small create: files)."""
        if case == "read_full" and variant == "none":
            return _row(rows, case, variant, "floor[2 threads]")
        if case == "many_small" and variant.startswith("create"):
            return _row(rows, case, variant, "floor[files]")
        return None

    def speedup(case, variant, ref, target, what):
        row = _row(rows, case, variant, "dosna_like")
        ref_row = _row(rows, case, variant, ref)
        if row is None and ref_row is None:
            return  # a run of other cases
        value = getattr(row, f"speedup_vs_{ref}", None) if row else None
        runs = paired_ratios(ref_row, row) if value is not None else []
        bound = None
        floor = floor_of(case, variant)
        if floor is not None and floor.median and ref_row is not None and ref_row.median:
            bound = f"≤ {ref_row.median / floor.median:.2f}×"
        out.append((what, None if value is None else f"{value:.2f}×" + _spread(runs, lambda r: f"{r:.2f}"),
                    verdict(value, runs, target), bound))

    for comp in ("none", "gzip"):
        speedup("read_full", comp, "h5py", 1.5, f"full read ≥ 1.5× h5py ({comp})")
    speedup("write", "none", "h5py", 1.0, "write ≥ 1.0× h5py (none)")
    for comp in ("none", "gzip"):
        row = _row(rows, "warm_small", comp, "dosna_like")
        ref = _row(rows, "warm_small", comp, "h5py")
        if row and ref and row.median and ref.median:
            ratio = row.median / ref.median
            runs = paired_ratios(row, ref)
            out.append((f"warm small read time / h5py's ≤ 1.0 ({comp})",
                        f"{ratio:.2f}" + _spread(runs, lambda r: f"{r:.2f}"),
                        verdict(ratio, runs, 1.0, higher_is_better=False), None))
    variants = dict.fromkeys(r.variant for r in rows if r.case == "read_full")
    for ref, target in (("zarr", 2.5), ("tensorstore", 1.5)):
        for comp in variants:
            speedup("read_full", comp, ref, target, f"full read ≥ {target}× {ref} ({comp})")
    for r in rows:  # issue 16: many small objects, appends
        if r.case == "many_small" and r.peer == "dosna_like" and r.variant.startswith("create"):
            n = r.variant.split()[-1]
            speedup("many_small", r.variant, "h5py", 1.0, f"create {n} small datasets, 2 attributes each ≥ 1.0× h5py")
    if _row(rows, "many_small", "reopen+walk+attrs", "dosna_like"):
        speedup("many_small", "reopen+walk+attrs", "h5py", 2.0, "reopen + walk + read attributes ≥ 2.0× h5py")
    for variant in dict.fromkeys(r.variant for r in rows if r.case == "append"):
        speedup("append", variant, "h5py", 1.0, f"append by resize + write ≥ 1.0× h5py ({variant})")
    for r in rows:
        if r.case == "latency" and r.peer == "dosna_like" and r.variant.startswith("open+read"):
            peak = r.extra.get("max_in_flight")
            if peak:
                value = statistics.median(peak)
                mean = statistics.median(r.extra["mean_in_flight"])
                out.append(("≥ 16 fetches in flight on the 25 ms store (full read)",
                            f"max {value:g}, mean {mean:g}", verdict(value, peak, 16), None))
                target = 0.9 * IO_CONCURRENCY  # issue 16: a continuous pipeline, no windows
                # the open's document reads count in ``mean``; the pipeline's own figure is shown beside it
                chunks = r.extra.get("mean_chunks_in_flight")
                shown = f"{mean:g}" + (f" (chunk fetches alone {statistics.median(chunks):g})" if chunks else "")
                out.append((f"mean fetches in flight ≥ 0.9 × the limit ({target:g} of {IO_CONCURRENCY}) "
                            "on the 25 ms store (full read)", shown,
                            verdict(mean, r.extra["mean_in_flight"], target), None))
    for variant, what in (("open+read none", "S3 open + full read ≥ 1.0× TensorStore (local endpoint)"),
                          ("open+read none sharded", "S3 open + full read, sharded, ≥ 1.0× TensorStore "
                                                     "(local endpoint)")):
        speedup("s3", variant, "tensorstore", 1.0, what)
    for m in memory:
        if m["peer"] == "dosna_like" and m["status"] == "ok":
            out.append((f"peak RSS of a full read ≤ 1.3× output ({m['variant']})",
                        f"{m['ratio']:.2f}×", verdict(m["ratio"], [], 1.3, higher_is_better=False), None))
    return out


def markdown(machine, config, rows, memory, notes) -> str:
    lines = [f"# dosna_like benchmark ({config['mode']} mode)", ""]
    deflate = machine["versions"].get("deflate")
    gzip_lib = f"libdeflate, deflate {deflate}" if deflate else "zlib"
    for note in notes:
        lines += [f"> **{note}**", ""]
    lines += [
        f"{machine['cpu_model']}, {machine['cpu_count']} cores, "
        f"{machine['mem_total_gib']:.1f} GiB RAM, {machine['platform']}; "
        f"python {machine['python']}, numpy {machine['versions']['numpy']}, "
        f"h5py {machine['versions']['h5py']} (HDF5 {machine['versions']['hdf5']}), "
        f"zarr {machine['versions']['zarr']}, "
        f"tensorstore {machine['versions'].get('tensorstore') or 'not installed'}, "
        f"dosna_like {machine['versions']['dosna_like']} (gzip through {gzip_lib}).",
        "",
        f"Data: {config['dtype']} {tuple(config['shape'])} "
        f"({config['nbytes'] / 2**20:.0f} MiB), chunks {tuple(config['chunks'])}; "
        f"median of {config['repeat']} repetitions, peers interleaved; page cache warm. "
        "Codecs: " + ", ".join(f"{k} = {v}" for k, v in config.get("codecs", {}).items()) + ". "
        "Speedup vs X = t_X / t_peer (> 1: faster than X).",
        "",
    ]
    checked = goals(rows, memory)
    if checked:
        lines += [f"Goals (dosna_like, this run; median, and in brackets the range of the "
                  f"{config['repeat']} repetitions' ratios; \"noisy\": the repetitions fall on "
                  "both sides of the goal):", "",
                  "| goal | measured | met | machine floor allows |", "|---|---:|---|---:|"]
        lines += [f"| {what} | {value or 'n/a'} | {'**no**' if status == 'no' else status} | {bound or ''} |"
                  for what, value, status, bound in checked]
        lines.append("")
        if config["mode"] == "quick":
            lines += [QUICK_NOTE, ""]
        if any(bound for *_, bound in checked):
            lines += ["Machine floor: the `floor[2 threads]` row of read_full (none) reads the "
                      "same chunk files with preadv into a fresh array in 2 threads and does "
                      "nothing else; the `floor[files]` row of many_small makes the directories "
                      "and files of the small datasets (temporary file + rename each) with plain "
                      "`os` calls and nothing else. A ratio above t_ref / t_floor is out of reach on "
                      "this machine (`benchmarks/floor.py` breaks the read floor down).", ""]
    lines += [
        "| case | variant | peer | median | range | MB/s | vs h5py | vs zarr | vs tensorstore | details |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        spread = (f"{_fmt_value(min(r.times), r.unit)}–{_fmt_value(max(r.times), r.unit)}"
                  if r.median is not None and len(r.times) > 1 else "")
        lines.append(f"| {r.case} | {r.variant} | {r.peer} | "
                     f"{_fmt_value(r.median, r.unit)} | {spread} | {_fmt_rate(r)} | "
                     f"{_fmt_ratio(r.speedup_vs_h5py)} | "
                     f"{_fmt_ratio(r.speedup_vs_zarr)} | "
                     f"{_fmt_ratio(r.speedup_vs_tensorstore)} | {_fmt_details(r)} |")
    if memory:
        lines += ["", "Peak RSS growth during a full read (fresh process), "
                  "relative to the output array size:", "",
                  "| variant | peer | peak RSS growth | output | ratio |",
                  "|---|---|---:|---:|---:|"]
        for m in memory:
            if m["status"] == "ok":
                lines.append(f"| {m['variant']} | {m['peer']} | "
                             f"{m['delta_bytes'] / 2**20:,.1f} MiB | "
                             f"{m['out_nbytes'] / 2**20:,.1f} MiB | "
                             f"{m['ratio']:.2f}× |")
            else:
                lines.append(f"| {m['variant']} | {m['peer']} | n/a | | |")
    failures = {}  # error -> rows it made n/a
    for what, error in ([(f"{r.case} {r.variant} / {r.peer}", r.error)
                         for r in rows if r.status != "ok"]
                        + [(f"memory {m['variant']} / {m['peer']}", m["error"])
                           for m in memory if m["status"] != "ok"]):
        failures.setdefault(error, []).append(what)
    if failures:
        lines += ["", "n/a reasons:", ""]
        lines += [f"- `{error}`: {', '.join(whats)}"
                  for error, whats in failures.items()]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------- plots
def plot_ratios(rows, out_dir) -> list:
    """One PNG per case: speedup vs h5py per variant (groups) and peer (bars).

    Bars start at 1 on a log axis: up means faster than h5py, down slower.
    """
    paths = []
    for case in dict.fromkeys(r.case for r in rows):
        case_rows = [r for r in rows if r.case == case]
        variants = list(dict.fromkeys(r.variant for r in case_rows))
        peers = list(dict.fromkeys(r.peer for r in case_rows))
        value = {(r.variant, r.peer): r.speedup_vs_h5py for r in case_rows}
        known = [v for v in value.values() if v] + [1.0]
        fig, ax = plt.subplots(figsize=(max(6.4, 0.5 * len(variants) * len(peers) + 2), 4.2))
        width = 0.8 / len(peers)
        for k, peer in enumerate(peers):
            for v, variant in enumerate(variants):
                x = v + (k - (len(peers) - 1) / 2) * width
                y = value.get((variant, peer))
                if y:
                    ax.bar(x, y - 1, width, bottom=1, color=f"C{k}",
                           label=peer if v == 0 else None)
                ax.annotate("n/a" if not y else _fmt_ratio(y), (x, y or 1),
                            xytext=(0, 2 if (y or 1) >= 1 else -2),
                            textcoords="offset points", ha="center",
                            va="bottom" if (y or 1) >= 1 else "top", fontsize=7)
        ax.axhline(1.0, color="black", lw=0.8)
        ax.set_yscale("log")
        ax.set_ylim(min(known) / 1.6, max(known) * 1.6)
        ax.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda y, _: f"{y:g}"))
        ax.yaxis.set_minor_formatter(NullFormatter())
        ax.set_xticks(range(len(variants)), variants)
        ax.set_ylabel("speedup vs h5py (t_h5py / t_peer)")
        ax.set_title(f"{case}: above 1 = faster than h5py (log scale)")
        for k, peer in enumerate(peers):  # legend entries even for all-n/a peers
            if not any(value.get((v, peer)) for v in variants):
                ax.bar(0, 0, 0, color=f"C{k}", label=f"{peer} (n/a)")
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))
        fig.tight_layout()
        path = os.path.join(out_dir, f"speedup_{case}.png")
        fig.savefig(path, dpi=110)
        plt.close(fig)
        paths.append(path)
    return paths

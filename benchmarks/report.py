"""Ratios, results.json, results.md and the PNG bar plots."""
from __future__ import annotations

import json
import os
from dataclasses import asdict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter  # noqa: E402


def add_ratios(rows) -> None:
    """speedup vs X = t_X / t_peer for rows of the same case and variant."""
    reference = {(r.case, r.variant, r.peer): r.median for r in rows}
    for row in rows:
        if row.median is None:
            continue
        for ref, attr in (("h5py", "speedup_vs_h5py"), ("zarr", "speedup_vs_zarr")):
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


def markdown(machine, config, rows, memory, notes) -> str:
    lines = [f"# dosna_like benchmark ({config['mode']} mode)", ""]
    for note in notes:
        lines += [f"> **{note}**", ""]
    lines += [
        f"{machine['cpu_model']}, {machine['cpu_count']} cores, "
        f"{machine['mem_total_gib']:.1f} GiB RAM, {machine['platform']}; "
        f"python {machine['python']}, numpy {machine['versions']['numpy']}, "
        f"h5py {machine['versions']['h5py']} (HDF5 {machine['versions']['hdf5']}), "
        f"zarr {machine['versions']['zarr']}, "
        f"dosna_like {machine['versions']['dosna_like']}.",
        "",
        f"Data: {config['dtype']} {tuple(config['shape'])} "
        f"({config['nbytes'] / 2**20:.0f} MiB), chunks {tuple(config['chunks'])}; "
        f"median of {config['repeat']} repetitions; page cache warm. "
        "Speedup vs X = t_X / t_peer (> 1: faster than X).",
        "",
        "| case | variant | peer | median | MB/s | speedup vs h5py | speedup vs zarr |",
        "|---|---|---|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(f"| {r.case} | {r.variant} | {r.peer} | "
                     f"{_fmt_value(r.median, r.unit)} | {_fmt_rate(r)} | "
                     f"{_fmt_ratio(r.speedup_vs_h5py)} | "
                     f"{_fmt_ratio(r.speedup_vs_zarr)} |")
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

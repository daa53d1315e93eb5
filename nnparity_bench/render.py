"""Render a benchmark result (the dict ``nnparity_bench.cli`` builds) as text, Markdown and a PNG.

The Markdown section is what the README shows: a header line naming the machine, the date, the
versions and the thread counts, then one table ``what | time (median [min–max]) | ratio |
target | met?`` and the chart.  The chart has three panels: each ratio against its target, and
time per iteration against batch size and against hidden size (log-log).
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence
from typing import Any

SECTION_TITLES = {
    "training": "Training: the book's MNIST run on the CPU",
    "numgrad": "Numerical gradient",
    "gpu": "Training on the GPU: eager vs CUDA graph",
    "verify": "Full verification run (python -m verify)",
}


# ------------------------------------------------------------------------------ numbers


def fmt_seconds(s: float | None) -> str:
    if s is None or not math.isfinite(s):
        return "—"
    if s >= 100:
        return f"{s:.0f} s"
    if s >= 1:
        return f"{s:.3g} s"
    if s >= 1e-3:
        return f"{s * 1e3:.3g} ms"
    return f"{s * 1e6:.3g} µs"


def fmt_ratio(r: float) -> str:
    """3 significant digits, without exponents: 0.841×, 3.81×, 145×, 1,060×."""
    return f"{r:,.0f}×" if r >= 1000 else f"{r:.3g}×"


def _range(m: Mapping[str, Any]) -> str:
    lo, hi = fmt_seconds(m["min"]), fmt_seconds(m["max"])
    # one unit for both ends when they share it: "1.2–1.3 s", else both in full
    lo_v, lo_u = lo.rsplit(" ", 1)
    hi_v, hi_u = hi.rsplit(" ", 1)
    return f"{lo_v}–{hi_v} {hi_u}" if lo_u == hi_u else f"{lo}–{hi}"


def time_cell(m: Mapping[str, Any]) -> str:
    if m.get("skipped"):
        return f"skipped: {m['skipped']}"
    if m.get("error"):
        return "error"
    if m.get("median") is None:
        return "—"
    text = f"{fmt_seconds(m['median'])} [{_range(m)}] ×{m['repeats']}"
    if m.get("per_iter_s") is not None:
        text += f" · {fmt_seconds(m['per_iter_s'])}/it"
    if m.get("peak_rss_mib") is not None:
        text += f" · peak RSS {m['peak_rss_mib']:.0f} MiB"
    return text


def ratio_cell(m: Mapping[str, Any], names: Mapping[str, str]) -> str:
    if m.get("is_baseline"):
        return "baseline"
    r = m.get("ratio")
    if r is None:
        return "—"
    base = names.get(m.get("baseline") or "", m.get("baseline") or "")
    return f"{fmt_ratio(r)} vs {base}"


def target_cell(m: Mapping[str, Any]) -> str:
    targets = m.get("targets") or []
    return "; ".join(t["text"] for t in targets) if targets else "—"


def met_cell(m: Mapping[str, Any]) -> str:
    met = m.get("met")
    if m.get("error"):
        return "error"
    if met is None:
        return "—"
    star = "" if m.get("claim_conditions", True) else "*"
    return f"yes{star}" if met else f"**no**{star}"


def what_cell(m: Mapping[str, Any]) -> str:
    return f"{m['what']} — {m['detail']}" if m.get("detail") else m["what"]


def _short_names(measurements: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    return {m["id"]: m.get("short") or m["what"] for m in measurements}


# ------------------------------------------------------------------------------ header


def header_line(result: Mapping[str, Any]) -> str:
    mi, cfg = result["machine"], result["config"]
    blas = mi.get("blas") or {}
    blas_text = " ".join(str(v) for v in (blas.get("name"), blas.get("version")) if v)
    blas_threads = blas.get("threads")
    env = {k: v for k, v in (mi.get("thread_env") or {}).items() if v is not None}
    env_text = ", ".join(f"{k}={v}" for k, v in env.items()) or "no thread variables set"
    la0, la1 = mi.get("load_average_start"), mi.get("load_average_end")
    load = f"load average {la0[0]:.2f} at start" if la0 else "load average unknown"
    if la1:
        load += f", {la1[0]:.2f} at end"
    gpu = mi.get("gpu")
    gpu_text = (
        f"GPU {gpu['name']} ({gpu['memory_gib']} GiB, CUDA {gpu['cuda']})"
        if gpu else "no GPU used"
    )
    threads = (
        f"torch {mi['torch']} ({cfg['torch_threads']} intra-op threads"
        f"{' (set)' if cfg.get('torch_threads_set') else ' (its default)'}; rows marked "
        f"'1 thread' use torch.set_num_threads(1))"
    )
    return (
        f"Machine: {mi['platform']}, {mi['cpu']} ({mi['usable_cpus']} of {mi['logical_cpus']} "
        f"logical CPUs usable; {load}) · {gpu_text} · {mi['date']} · Python {mi['python']}, "
        f"NumPy {mi['numpy']} (BLAS {blas_text or 'unknown'}, "
        f"{blas_threads if blas_threads is not None else 'unknown'} BLAS threads"
        f"{' (set)' if cfg.get('blas_threads_set') else ''}; "
        f"{env_text}), {threads} · commit {mi.get('git_commit') or 'unknown'}"
    )


def run_line(result: Mapping[str, Any]) -> str:
    cfg = result["config"]
    return (
        f"Run: `{cfg['command']}` ({cfg['mode']}): {cfg['iters']:,} training iterations, "
        f"{_plural(cfg['repeats'], 'repeat')} (the element-loop gradient once), "
        f"seed {cfg['seed']}, "
        f"data: {cfg['data']}. Times are medians with [min–max] over the repeats; a ratio is "
        f"the baseline's median over this row's median (above 1: faster)."
    )


# ------------------------------------------------------------------------------ tables


def _rows(result: Mapping[str, Any]) -> list[tuple[str, list[Mapping[str, Any]]]]:
    out: list[tuple[str, list[Mapping[str, Any]]]] = []
    for m in result["measurements"]:
        sec = m["section"]
        if not out or out[-1][0] != sec:
            out.append((sec, []))
        out[-1][1].append(m)
    return out


def section_title(result: Mapping[str, Any], section: str) -> str:
    return (result.get("section_titles") or {}).get(section) or SECTION_TITLES.get(
        section, section
    )


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def _md(s: str) -> str:
    return s.replace("|", "\\|").replace("\n", " ")


def render_markdown(result: Mapping[str, Any], image: str | None = None) -> str:
    names = _short_names(result["measurements"])
    lines = [
        "### Speed",
        "",
        f"<sub>{_md(header_line(result))}</sub>",
        "",
        _md(run_line(result)),
        "",
        "| what | time (median [min–max]) | ratio | target | met? |",
        "|---|---|---|---|---|",
    ]
    for sec, rows in _rows(result):
        lines.append(f"| **{_md(section_title(result, sec))}** | | | | |")
        for m in rows:
            cells = (what_cell(m), time_cell(m), ratio_cell(m, names), target_cell(m),
                     met_cell(m))
            lines.append("| " + " | ".join(_md(c) for c in cells) + " |")
    lines.append("")
    s = result["summary"]
    lines.append(
        f"Targets met: {s['met']} of {s['evaluated']} evaluated"
        + (f"; missed: {', '.join(s['missed'])}" if s["missed"] else "")
        + (f"; skipped: {', '.join(s['skipped'])}" if s["skipped"] else "")
        + (f"; errors: {', '.join(s['errors'])}" if s["errors"] else "")
        + "."
    )
    if any(not m.get("claim_conditions", True) for m in result["measurements"]):
        lines.append("")
        lines.append(
            "\\* measured under other conditions than the claim states (a shorter run, a "
            "smaller batch or another GPU): indicative only."
        )
    errors = [m for m in result["measurements"] if m.get("error")]
    for m in errors:
        lines.append("")
        lines.append(f"Error in {_md(m['what'])}: `{_md(m['error'])}`")
    lines += scaling_markdown(result.get("scaling"))
    if image:
        lines += ["", f"![benchmark chart: ratios against targets, and scaling]({image})"]
    lines.append("")
    return "\n".join(lines)


def scaling_markdown(scaling: Mapping[str, Any] | None) -> list[str]:
    """Two small tables: median seconds per iteration by batch size and by hidden size."""
    if not scaling or not scaling.get("series"):
        return []
    out: list[str] = []
    for axis, xs, fixed in (
        ("batch", scaling["batch_sizes"], f"hidden {scaling['fixed_hidden']}"),
        ("hidden", scaling["hidden_sizes"], f"batch {scaling['fixed_batch']}"),
    ):
        series = [s for s in scaling["series"] if s["axis"] == axis]
        if not series:
            continue
        whole = axis == "batch" and xs and xs[-1] == scaling.get("train_size")
        note = f"{fixed}; the largest batch is the whole training set" if whole else fixed
        out += ["", f"Time per training iteration (median) by {axis} size ({note}):", ""]
        out.append("| engine | " + " | ".join(f"{x:,}" for x in xs) + " |")
        out.append("|---" * (len(xs) + 1) + "|")
        for s in series:
            got = {p["x"]: fmt_seconds(p["median"]) for p in s["points"]}
            cells = [got.get(x, "error" if s.get("error") else "—") for x in xs]
            out.append(f"| {_md(s['label'])} | " + " | ".join(cells) + " |")
    return out


def render_text(result: Mapping[str, Any]) -> str:
    names = _short_names(result["measurements"])
    header = ("what", "time (median [min–max])", "ratio", "target", "met?")
    body: list[tuple[str, ...] | str] = []
    for sec, rows in _rows(result):
        body.append(f"[{section_title(result, sec)}]")
        for m in rows:
            body.append((m["what"], time_cell(m), ratio_cell(m, names), target_cell(m),
                         met_cell(m).replace("**", "")))
            if m.get("detail"):
                body.append(f"    {m['detail']}")
            if m.get("error"):
                body.append(f"    error: {m['error']}")
    cols = [r for r in body if isinstance(r, tuple)] + [header]
    widths = [max(len(r[i]) for r in cols) for i in range(len(header))]

    def line(r: Sequence[str]) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()

    out = [header_line(result), run_line(result), "", line(header),
           "  ".join("-" * w for w in widths)]
    for r in body:
        out.append(r if isinstance(r, str) else line(r))
    s = result["summary"]
    out.append("")
    out.append(f"targets met: {s['met']} of {s['evaluated']} evaluated"
               + (f"; missed: {', '.join(s['missed'])}" if s["missed"] else "")
               + (f"; errors: {', '.join(s['errors'])}" if s["errors"] else ""))
    return "\n".join(out)


# ------------------------------------------------------------------------------ chart


_COLORS = {True: "#2a9d48", False: "#d1495b", None: "#8d99ae"}


def _ratio_panel(ax: Any, result: Mapping[str, Any]) -> None:
    names = _short_names(result["measurements"])
    rows = [m for m in result["measurements"] if m.get("ratio") and not m.get("is_baseline")]
    if not rows:
        ax.text(0.5, 0.5, "no ratios measured", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        return
    labels, ratios = [], []
    for y, m in enumerate(rows):
        base = names.get(m.get("baseline") or "", "")
        labels.append(f"{m.get('short') or m['what']}\nvs {base}")
        ratios.append(m["ratio"])
        ax.barh(y, m["ratio"], color=_COLORS[m.get("met")], height=0.6)
        for t in m.get("targets") or []:
            if t["kind"] == "speedup_min":
                ax.plot([t["value"]] * 2, [y - 0.4, y + 0.4], color="black", lw=2)
        timed = [t for t in m.get("targets") or [] if t["kind"] == "time_max"]
        note = fmt_ratio(m["ratio"])
        for t in timed:
            note += f"  ({t['text']}: {'met' if t['met'] else 'missed'})"
        ax.text(m["ratio"], y, " " + note, va="center", fontsize=7)
    ax.set_yticks(range(len(rows)), labels, fontsize=7)
    ax.invert_yaxis()
    ax.set_xscale("log")
    lo, hi = min(ratios + [0.5]), max(ratios + [5.0])
    ax.set_xlim(lo / 2, hi * 8)
    ax.axvline(1.0, color="grey", lw=0.8, ls=":")
    ax.set_xlabel("speed-up over the baseline (log); black tick: target")
    ax.set_title("ratios against targets (green met, red missed, grey no target)", fontsize=9)


def _scaling_panel(ax: Any, scaling: Mapping[str, Any] | None, axis: str) -> None:
    if not scaling or not scaling.get("series"):
        ax.text(0.5, 0.5, "scaling not measured", ha="center", va="center",
                transform=ax.transAxes)
        ax.set_axis_off()
        return
    drawn = 0
    for s in scaling["series"]:
        if s["axis"] != axis or not s["points"]:
            continue
        xs = [p["x"] for p in s["points"]]
        ys = [p["median"] for p in s["points"]]
        lo = [p["median"] - p["min"] for p in s["points"]]
        hi = [p["max"] - p["median"] for p in s["points"]]
        style = "-" if s["engine"] == "numpy" else "--"
        ax.errorbar(xs, ys, yerr=[lo, hi], fmt="o" + style, ms=3, capsize=2, label=s["label"])
        drawn += 1
    ax.set_xscale("log")
    ax.set_yscale("log")
    ticks = scaling["batch_sizes"] if axis == "batch" else scaling["hidden_sizes"]
    ax.set_xticks(ticks, [f"{v:,}" for v in ticks])
    ax.minorticks_off()
    if axis == "batch":
        whole = scaling["batch_sizes"][-1] == scaling.get("train_size")
        ax.set_xlabel(f"batch size (hidden {scaling['fixed_hidden']}"
                      f"{'; largest = whole training set' if whole else ''})")
    else:
        ax.set_xlabel(f"hidden size (batch {scaling['fixed_batch']})")
    ax.set_ylabel("seconds per iteration (median)")
    ax.grid(True, which="both", alpha=0.3)
    if drawn:
        ax.legend(fontsize=7)
    ax.set_title(f"time per training iteration vs {axis} size", fontsize=9)


def render_png(result: Mapping[str, Any]) -> bytes:
    """The chart as PNG bytes (matplotlib's object API: no pyplot, no global backend)."""
    from matplotlib.figure import Figure

    n = sum(1 for m in result["measurements"] if m.get("ratio") and not m.get("is_baseline"))
    fig = Figure(figsize=(17, max(4.5, 0.42 * n + 1.5)), layout="constrained")
    gs = fig.add_gridspec(1, 3, width_ratios=[1.5, 1, 1])
    _ratio_panel(fig.add_subplot(gs[0]), result)
    _scaling_panel(fig.add_subplot(gs[1]), result.get("scaling"), "batch")
    _scaling_panel(fig.add_subplot(gs[2]), result.get("scaling"), "hidden")
    mi = result["machine"]
    gpu = f", {mi['gpu']['name']}" if mi.get("gpu") else ""
    fig.suptitle(f"nnparity bench ({result['config']['mode']}) on {mi['cpu']}{gpu}, "
                 f"{mi['date']}", fontsize=10)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    return buf.getvalue()

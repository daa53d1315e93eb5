"""The README's figures of a verify run, generated from that run's JSON report.

    python -m verify --quick --report-dir report/
    python scripts/readme_figures.py report/report.json --write    # rewrite the README block
    python scripts/readme_figures.py report/report.json --check    # CI: fail if it disagrees

A ``--quick`` report writes the block between ``<!-- verify-run:begin -->`` and
``<!-- verify-run:end -->``; a report of the full run (``python -m verify`` with defaults)
writes the block between ``<!-- verify-full:begin -->`` and ``<!-- verify-full:end -->``, with
the training table (each candidate's worst free-running and step-replay difference, prediction
flips and final accuracy).  Both are written from the report alone, never by hand.
``--check`` compares what must not drift between runs of the same commit and options: the
number of checks per group, the iterations, the golden file; timings and the date are not
compared (they move with the machine).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
BEGIN, END = "<!-- verify-run:begin -->", "<!-- verify-run:end -->"
FULL_BEGIN, FULL_END = "<!-- verify-full:begin -->", "<!-- verify-full:end -->"


def _fmt_seconds(s: float) -> str:
    m, sec = divmod(round(s), 60)
    return f"{m} min {sec} s" if m else f"{sec} s"


def markers(report: dict) -> tuple[str, str]:
    """The README block a report belongs to: the --quick one or the full run's."""
    return (BEGIN, END) if report["environment"].get("quick") else (FULL_BEGIN, FULL_END)


def block(report: dict) -> str:
    env, summ = report["environment"], report["summary"]
    groups = Counter(c["group"] for c in report["checks"])
    per_group = ", ".join(f"{g} {n}" for g, n in sorted(groups.items()))
    mode = "--quick" if env.get("quick") else "defaults"
    begin, end = markers(report)
    lines = [
        begin,
        f"`python -m verify` ({mode}, {env['iters']:,} training iterations, data: "
        f"{env['data'].split(' from ')[0]}) on {env.get('machine', '?')} with "
        f"{env.get('cpu_count', '?')} cores, nnparity {report['producer']['version']} "
        f"({report['producer']['commit']}): **{summ['passed']} of {summ['total']} checks "
        f"passed** in {_fmt_seconds(env.get('seconds', summ['seconds']))} wall "
        f"(by group: {per_group}).",
        f"Golden trajectory: {env.get('golden', 'not recorded')}.",
    ]
    if not env.get("quick"):
        lines += ["", *training_table(report)]
    return "\n".join([*lines, end])


def _by_candidate(report: dict, prefix: str) -> dict[str, dict]:
    """The training checks named ``prefix (candidate)``, by candidate."""
    out = {}
    for c in report["checks"]:
        m = re.fullmatch(re.escape(prefix) + r" \((.+)\)", c["name"])
        if c["group"] == "training" and m:
            out[m.group(1)] = c
    return out


def training_table(report: dict) -> list[str]:
    """One row per candidate (and per fast path): how far it got from the float64 reference."""
    curves = _by_candidate(report, "free-running loss curve")
    replays = _by_candidate(report, "step replay (restart from reference each step)")
    flips = _by_candidate(report, "accuracy curves via prediction flips")
    rows = ["| candidate vs the float64 reference | free-running loss: max relative difference "
            "(the step closest to its band) | step replay: max relative difference (the worst "
            "step and tensor) | prediction flips | final test accuracy (reference) |",
            "|---|---|---|---|---|"]
    for name, curve in curves.items():
        rep = replays.get(name.split(",")[0]) if "," not in name else None
        fl = flips.get(name, {})
        m = re.search(r"(\d+) flips?", fl.get("where") or "")
        det = fl.get("details") or {}
        acc = det.get("final_test_acc")
        ref_acc = det.get("reference_final_test_acc")
        replay = (f"{rep['max_rel_err']:.2g} ({rep['where']})" if rep else
                  "— (the eager row replays)")
        acc_text = (f"{acc:.4f} ({'same' if acc == ref_acc else ref_acc})"
                    if acc is not None else "—")
        rows.append(f"| {name} | {curve['max_rel_err']:.2g} ({curve['where']}) | {replay} | "
                    f"{m.group(1) if m else '?'} | {acc_text} |")
    return rows


def _stable(text: str) -> dict:
    """What --check compares: counts, iterations, data kind and golden file, not times."""
    counts = re.search(r"\*\*(\d+) of (\d+) checks passed\*\*", text)
    groups = re.search(r"by group: ([^)]*)\)", text)
    iters = re.search(r"([\d,]+) training iterations", text)
    golden = re.search(r"Golden trajectory: (\S+)", text)
    return {"counts": counts.groups() if counts else None,
            "groups": groups.group(1) if groups else None,
            "iters": iters.group(1) if iters else None,
            "golden": golden.group(1) if golden else None}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("report", type=Path, help="a verify JSON report (report.json)")
    mode = p.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", action="store_true", help="rewrite the README block")
    mode.add_argument("--check", action="store_true", help="exit 1 if the README disagrees")
    p.add_argument("--readme", type=Path, default=README)
    args = p.parse_args(argv)
    report = json.loads(args.report.read_text(encoding="utf-8"))
    text = args.readme.read_text(encoding="utf-8")
    begin, end = markers(report)
    if begin not in text or end not in text:
        p.error(f"{args.readme}: no {begin} ... {end} block")
    head, rest = text.split(begin, 1)
    old, tail = rest.split(end, 1)
    new = block(report)
    if args.write:
        from reference_numpy._atomic import atomic_write

        atomic_write(args.readme, lambda f: f.write((head + new + tail).encode("utf-8")))
        print(f"{args.readme}: verify block rewritten from {args.report}")
        return 0
    want, got = _stable(new), _stable(begin + old + end)
    if want != got:
        print(f"{args.readme}: the verify block disagrees with {args.report}:\n"
              f"  README: {got}\n  run:    {want}\n"
              f"regenerate it: python scripts/readme_figures.py {args.report} --write",
              file=sys.stderr)
        return 1
    print(f"{args.readme}: verify block agrees with {args.report}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

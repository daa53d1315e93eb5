"""Saved runs: ``python -m verify --save PATH`` records one, ``python -m verify compare A B``
(or ``--against PATH`` after a run) compares two, so a GPU machine's run can be held to a CPU
CI's, or today's commit to last release's, without running both again.

The record is the JSON report itself (strict JSON, written atomically, no pickle), with the
run's numbers under ``environment["record"]``: per training run (the training group's book run,
each run of the regimes group) its plan and, per engine (named without its device, so a CUDA
run meets a CPU one), its tolerance class, the loss of every iteration, the accuracies at each
evaluation, early stopping's decisions, and for float64 engines of the book's run the final
parameters' fingerprint (verify/golden.py).

Two records are compared under the tolerance classes verify judges with: the loss curves by
the class's measured band (the looser class of the two sides), the correct counts at each
evaluation by the prediction-flip allowance, the fingerprints by the golden fingerprint bound
(measured as float64 noise between BLAS libraries), early stopping exactly, and the verdicts of
the checks both reports hold.  Exit status 0 when every row agrees, 1 when one does not, 2 for
bad input: a missing file, a file that is not a verify report, a report without a record, or
records of different plans (the field that differs is named).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from .observe import Observation, judge
from .report import CheckResult, Report, format_table
from .tolerances import flip_band

__all__ = ["RECORD_KEY", "RECORD_VERSION", "BadRecord", "attach_record", "build_record",
           "compare_reports", "load_record", "main"]

RECORD_KEY = "record"
RECORD_VERSION = 1
GROUP = "compare"

#: Tolerance classes from the tightest to the loosest: two sides are judged by the looser.
_CLASS_ORDER = ("float64", "float32-cpu", "float32-cuda", "tf32")


class BadRecord(ValueError):
    """Input that cannot be compared (exit status 2): the message is one line."""


# --------------------------------------------------------------------------- recording


def _role(name: str) -> str:
    """An engine's name without its device: "torch/cuda:0/float32" -> "torch/float32"."""
    parts = name.split("/")
    return name if len(parts) < 3 else f"{parts[0]}/{parts[-1]}"


def _name(ctx: Any, key: str) -> str:
    """The engine's own name ("reference" is recorded as the reference engine's name)."""
    return ctx.reference.name if key == "reference" else key


def _entry(name: str, tclass: str, hist: Any, params: dict[str, np.ndarray] | None) -> dict:
    from . import golden

    return {
        "engine": name, "class": tclass,
        "train_loss": [float(v) for v in hist.train_loss_list],
        "eval_iters": [int(i) for i in hist.eval_iters],
        "train_acc": [float(v) for v in hist.train_acc_list],
        "test_acc": [float(v) for v in hist.test_acc_list],
        "val_acc": [float(v) for v in hist.val_acc_list],
        "stopped_at": hist.stopped_at, "best_iter": hist.best_iter,
        "fingerprint": None if params is None or tclass != "float64"
        else golden.fingerprint(params),
    }


def build_record(ctx: Any) -> dict:
    """The numbers of the run ``ctx`` made (see the module docstring)."""
    from .checks import regimes
    from .plans import BATCH_SIZE, LEARNING_RATE

    runs: dict[str, dict] = {}
    classes = {"reference": ctx.reference.tolerance_class,
               **{e.name: e.tolerance_class for e in ctx.engines}}
    if ctx.curves:
        (x, _), (xt, _) = ctx.mnist[0]
        plan = {"data": str(ctx.mnist[1].kind), "train_size": len(x), "test_size": len(xt),
                "seed": ctx.seed, "iters": ctx.iters, "batch_size": BATCH_SIZE,
                "learning_rate": LEARNING_RATE}
        runs["training"] = {"plan": plan, "kind": "curve", "band": None, "engines": {
            _role(name): _entry(_name(ctx, name), classes[name], hist,
                                ctx.final_params.get(name))
            for name, hist in ctx.curves.items() if name in classes}}
    by_name = {r.name: r for r in regimes.REGIMES}
    for name, entries in ctx.regime_runs.items():
        spec = by_name[name]
        plan = {"regime": {k: (dict(v) if isinstance(v, dict) else v)
                           for k, v in asdict(spec).items()},
                "seed": ctx.seed, "iters": min(spec.iters, ctx.iters),
                "train_size": regimes.N_TRAIN, "test_size": regimes.N_TEST,
                "val_size": regimes.N_VAL}
        runs[f"regimes/{name}"] = {"plan": plan, "kind": "regime_curve", "band": name,
                                   "engines": {_role(e): _entry(_name(ctx, e), classes[e], h,
                                                                None)
                                               for e, (h, _) in entries.items()}}
    return {"version": RECORD_VERSION, "runs": runs}


def attach_record(report: Report, ctx: Any) -> Report:
    """``report`` with the run's record in its environment (what ``--save`` writes)."""
    report.environment[RECORD_KEY] = build_record(ctx)
    return report


# --------------------------------------------------------------------------- reading


def load_record(path: str | Path) -> tuple[Report, dict]:
    """The report at ``path`` and its record; BadRecord (one line) for anything else."""
    from .report.writers.json_report import read_json

    p = Path(path)
    if not p.is_file():
        raise BadRecord(f"{path}: no such file (expected a report written by --save)")
    try:
        report = read_json(p)
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
        reason = " ".join(str(exc).split())[:200]
        raise BadRecord(f"{path}: not a verify report ({reason})") from None
    record = report.environment.get(RECORD_KEY)
    if not isinstance(record, dict) or not isinstance(record.get("runs"), dict):
        raise BadRecord(f"{path}: a verify report without a run record (write it with "
                        "`python -m verify --save PATH`)")
    if record.get("version") != RECORD_VERSION:
        raise BadRecord(f"{path}: expected record version {RECORD_VERSION}, got "
                        f"{record.get('version')!r}")
    return report, record


def _plan_difference(a: Any, b: Any, where: str) -> str | None:
    """The first field where two plans differ, as "where.field: A vs B", or None."""
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            if k not in a or k not in b:
                return f"{where}.{k}: {'missing' if k not in a else a[k]!r} in A, " \
                       f"{'missing' if k not in b else b[k]!r} in B"
            diff = _plan_difference(a[k], b[k], f"{where}.{k}")
            if diff:
                return diff
        return None
    return None if a == b else f"{where}: {a!r} in A, {b!r} in B"


# --------------------------------------------------------------------------- comparing


def _looser(a: str, b: str) -> str:
    rank = {c: i for i, c in enumerate(_CLASS_ORDER)}
    return max(a, b, key=lambda c: rank.get(c, len(rank)))


def _rows(run: str, spec_a: dict, spec_b: dict) -> Iterator[Observation | CheckResult]:
    """What two records of one run are compared on (the module docstring)."""
    plan = spec_a["plan"]
    for role in sorted(set(spec_a["engines"]) & set(spec_b["engines"])):
        a, b = spec_a["engines"][role], spec_b["engines"][role]
        tclass = _looser(a["class"], b["class"])
        label = a["engine"] if a["engine"] == b["engine"] else f"{a['engine']} vs {b['engine']}"
        yield Observation(f"{run}: loss curve", GROUP, label, tclass, spec_a["kind"],
                          "train loss", np.asarray(b["train_loss"], dtype=np.float64),
                          np.asarray(a["train_loss"], dtype=np.float64),
                          details={"band": spec_a.get("band")})
        yield _counts_row(run, label, tclass, a, b, plan["train_size"], plan["test_size"])
        if a["fingerprint"] and b["fingerprint"]:
            for p in sorted(a["fingerprint"]):
                yield Observation(f"{run}: final parameters' fingerprint", GROUP, label,
                                  "float64", "golden_fingerprint", f"fingerprint of {p}",
                                  np.asarray(b["fingerprint"].get(p, []), dtype=np.float64),
                                  np.asarray(a["fingerprint"][p], dtype=np.float64))
        if a["stopped_at"] is not None or b["stopped_at"] is not None or a["val_acc"]:
            same = (a["stopped_at"], a["best_iter"], a["val_acc"]) == (
                b["stopped_at"], b["best_iter"], b["val_acc"])
            yield CheckResult(
                name=f"{run}: early stopping ({label})", group=GROUP, passed=same,
                max_abs_err=0.0 if same else 1.0, max_rel_err=0.0 if same else 1.0,
                where=f"stopped at {a['stopped_at']} / {b['stopped_at']}, best "
                      f"{a['best_iter']} / {b['best_iter']}", tolerance_class="exact",
                rtol=0.0, atol=0.0,
                message="" if same else (f"early stopping differs: A stopped at "
                                         f"{a['stopped_at']} (best {a['best_iter']}), B at "
                                         f"{b['stopped_at']} (best {b['best_iter']})"))


def _counts_row(run: str, label: str, tclass: str, a: dict, b: dict, n_train: int,
                n_test: int) -> CheckResult:
    """The correct counts at each evaluation: no count may change by more than the class's
    prediction-flip allowance over all examples (as the flips check allows)."""
    allowed = flip_band(tclass, n_train + n_test)
    worst, where, first = 0, "no evaluations", None
    same_len = len(a["eval_iters"]) == len(b["eval_iters"])
    for key, n in (("train_acc", n_train), ("test_acc", n_test)):
        for i, (x, y) in enumerate(zip(a[key], b[key], strict=False)):
            d = abs(round(x * n) - round(y * n))
            if d > worst:
                worst, where = d, f"{key.split('_')[0]} count at iteration {a['eval_iters'][i]}"
            if d > allowed and first is None:
                first = int(a["eval_iters"][i])
    passed = worst <= allowed and same_len
    msg = "" if passed else (
        f"correct counts of {label} differ by {worst} examples at most ({where}; allowed "
        f"{allowed})" + ("" if same_len else f"; {len(a['eval_iters'])} evaluations in A, "
                         f"{len(b['eval_iters'])} in B"))
    return CheckResult(name=f"{run}: correct counts at the evaluations ({label})", group=GROUP,
                       passed=passed, max_abs_err=float(worst),
                       max_rel_err=float(worst) / max(1, n_test), where=where,
                       tolerance_class=tclass, rtol=0.0, atol=float(allowed),
                       first_divergence_step=first, message=msg)


def _verdicts(ra: Report, rb: Report) -> CheckResult:
    """The checks both reports hold must have the same verdicts."""
    va = {c.name: c.passed for c in ra.checks}
    vb = {c.name: c.passed for c in rb.checks}
    both = sorted(set(va) & set(vb))
    differ = [n for n in both if va[n] != vb[n]]
    msg = "" if not differ else (
        f"{len(differ)} checks changed verdict, first: {differ[0]!r} "
        f"({'passed' if va[differ[0]] else 'failed'} in A, "
        f"{'passed' if vb[differ[0]] else 'failed'} in B)")
    return CheckResult(
        name="check verdicts (checks in both reports)", group=GROUP, passed=not differ,
        max_abs_err=float(len(differ)), max_rel_err=len(differ) / max(1, len(both)),
        where=f"{len(both)} checks in both, {len(set(va) ^ set(vb))} in one only",
        tolerance_class="exact", rtol=0.0, atol=0.0, message=msg,
        details={"changed": differ[:20]})


def compare_reports(a: tuple[Report, dict], b: tuple[Report, dict]) -> Report:
    """One row per compared quantity (module docstring); BadRecord when the plans differ or
    nothing is comparable."""
    (ra, reca), (rb, recb) = a, b
    runs = sorted(set(reca["runs"]) & set(recb["runs"]))
    if not runs:
        raise BadRecord(f"no run in common: A holds {sorted(reca['runs'])}, B holds "
                        f"{sorted(recb['runs'])}")
    for run in runs:
        diff = _plan_difference(reca["runs"][run]["plan"], recb["runs"][run]["plan"],
                                f"{run}.plan")
        if diff:
            raise BadRecord(f"the runs are of different plans: {diff}")
    observations: list[Observation] = []
    rows: list[CheckResult] = []
    for run in runs:
        for item in _rows(run, reca["runs"][run], recb["runs"][run]):
            (observations if isinstance(item, Observation) else rows).append(item)
    checks = judge(observations) + rows + [_verdicts(ra, rb)]
    only = sorted(set(reca["runs"]) ^ set(recb["runs"]))
    env = {"compared": {"A": ra.producer, "B": rb.producer}, "runs": runs,
           "runs_in_one_only": only}
    return Report(checks=checks, environment=env)


# --------------------------------------------------------------------------- command line


def main(argv: list[str], prog: str = "python -m verify compare") -> int:
    """``compare A.json B.json``: the table, then exit 0 (agree), 1 (differ) or 2 (bad input)."""
    from .cli import UsageParser

    p = UsageParser(prog=prog, description="Compare two runs saved with `python -m verify "
                    "--save PATH` under verify's tolerance classes (B is judged against A).",
                    epilog="Exit status: 0 if the runs agree, 1 if not, 2 for bad input.")
    p.add_argument("a", metavar="A.json", help="the run judged against (e.g. the CPU CI's)")
    p.add_argument("b", metavar="B.json", help="the run judged (e.g. a GPU machine's)")
    p.add_argument("--json", metavar="PATH", help="also write the comparison as a JSON report")
    args = p.parse_args(argv)
    try:
        result = compare_reports(load_record(args.a), load_record(args.b))
    except BadRecord as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 2
    return _finish(result, args.json)


def against(path: str | Path, report: Report, saved: tuple[Report, dict] | None = None) -> int:
    """``--against PATH``: the run just made (``report``, with its record) judged against the
    saved one; ``saved`` when already loaded (the CLI checks it before running)."""
    try:
        result = compare_reports(saved or load_record(path),
                                 (report, report.environment[RECORD_KEY]))
    except BadRecord as exc:
        print(f"python -m verify --against: error: {exc}", file=sys.stderr)
        return 2
    return _finish(result, None)


def _finish(result: Report, json_path: str | None) -> int:
    print(format_table(result, color=sys.stdout.isatty()))
    if json_path:
        from .report.writers.json_report import write_json

        write_json(result, json_path)
    return 0 if result.passed else 1


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main(sys.argv[1:]))


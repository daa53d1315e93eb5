"""``python -m verify`` / ``nnparity``: prove that the two references agree.

Read top to bottom: parse the options, pick the engines, run the check groups, judge them
against the float64 reference, print the table, write the reports, exit 0 only if all passed.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
import warnings
from pathlib import Path
from typing import NoReturn

import numpy as np

from .checks import GROUP_NAMES
from .plans import BOOK_ITERS, QUICK_ITERS
from .preflight import preflight
from .progress import Progress
from .report import CheckResult, Report, format_table
from .report.atomic import write_file
from .report.writers import WRITERS, write_report_set
from .version import nnparity_version

#: Commands with their own option parser, dispatched before this one's (see their --help).
OWN_PARSER_COMMANDS = ("bench", "check", "compare")
SUBCOMMANDS = (*GROUP_NAMES, "all", "selftest", "calibrate", *OWN_PARSER_COMMANDS)


class UsageParser(argparse.ArgumentParser):
    """argparse with bad usage reported as one line on stderr (exit status 2), no usage dump."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {' '.join(message.split())} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    p = UsageParser(
        prog="nnparity",
        description="Run the NumPy and torch references on one plan and prove they agree "
        "(losses, gradients, optimizers, data, training) against float64.",
        epilog="Exit status: 0 if every check passed, 1 if any failed, 2 for bad usage.",
    )
    p.add_argument("command", nargs="?", default="all", choices=SUBCOMMANDS,
                   help="a check group, 'all' (default), 'selftest' (planted bugs), "
                   "'calibrate' (measure the noise tolerances come from), 'bench' (speed "
                   "ratios; see `nnparity bench --help`), 'check PATH' (your own "
                   "implementation of the chapter; see `nnparity check --help`) or 'compare "
                   "A.json B.json' (two runs saved with --save; see `nnparity compare --help`)")
    p.add_argument("--version", action="version", version=f"nnparity {nnparity_version()}")
    p.add_argument("--device", default=None,
                   help="torch device for the torch engines (default: $NNPARITY_DEVICE, else "
                   "cuda if available, else cpu)")
    p.add_argument("--dtype", default="both", choices=("float32", "float64", "both"),
                   help="candidate precision(s); the reference is always NumPy float64")
    p.add_argument("--iters", type=int, default=None,
                   help=f"training iterations (default {BOOK_ITERS:,}, the book's run; "
                   f"{QUICK_ITERS:,} with --quick)")
    p.add_argument("--seed", type=int, default=0, help="seed of the plan and the test inputs")
    p.add_argument("--seeds", type=int, default=None,
                   help="selftest/calibrate: how many seeds to run with no bug (default 20)")
    p.add_argument("--data-dir", default=None,
                   help="MNIST folder (default: $NNPARITY_DATA_DIR, cache, download, subset)")
    p.add_argument("--download-timeout", type=float, default=None, metavar="SECONDS",
                   help="total deadline per MNIST file and mirror when downloading (connect, "
                   "headers and body; default 120), after which the next mirror is tried")
    _add_output_options(p)
    p.add_argument("--quick", action="store_true",
                   help=f"smaller runs ({QUICK_ITERS:,} training iterations, 3 accuracy "
                   "evaluations on full MNIST, fewer points); same tolerances")
    p.add_argument("--allow-tf32", action="store_true",
                   help="declare TF32: judge float32 with the tf32 class instead of failing")
    p.add_argument("--replay-all", action="store_true",
                   help="training: replay every step (default: steps 0-999, with --quick 0-299, "
                        "then every 10th)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.add_argument("--save", metavar="PATH", help="record this run: the JSON report with the "
                   "run's curves, counts and fingerprints (for `compare` and --against)")
    p.add_argument("--against", metavar="PATH", help="after the run, compare it with a run "
                   "saved by --save (exit 1 if they differ, 2 if PATH is not such a record)")
    p.add_argument("--fail-fast", action="store_true",
                   help="stop after the first check group with a failure (reports still "
                   "written, exit status 1)")
    return p


def _check_args(p: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    if args.iters is not None and args.iters < 1:
        p.error(f"--iters: expected a positive number of iterations, got {args.iters}")
    if args.seed < 0:
        p.error(f"--seed: expected a non-negative integer, got {args.seed}")
    if args.data_dir is not None and not Path(args.data_dir).is_dir():
        p.error(f"--data-dir: expected a folder holding the four MNIST files, got "
                f"{args.data_dir!r}, which is not a folder")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["bench"]:
        # The bench is its own package with its own options; imported only when asked for.
        from nnparity_bench.cli import main as bench_main

        return bench_main(argv[1:], prog="python -m verify bench")
    if argv[:1] == ["check"]:  # a user's implementation: verify/check_cmd.py
        from .check_cmd import main as check_main

        return check_main(argv[1:], prog="nnparity check")
    if argv[:1] == ["compare"]:
        from .compare_runs import main as compare_main

        return compare_main(argv[1:])
    parser = build_parser()
    args = parser.parse_args(argv)
    _check_args(parser, args)
    # The loader warns each time it falls back to the bundled subset (several loads per run);
    # verify says it once instead: in the summary, the reports and the plots.
    from reference_numpy.mnist import MnistSubsetWarning

    warnings.filterwarnings("ignore", category=MnistSubsetWarning)
    preflight(parser, args)
    saved = _saved_run(args.against)  # a bad record is refused before anything runs
    if args.command == "selftest":
        from .selftest import main as selftest_main

        return selftest_main(args)
    if args.command == "calibrate":
        return _calibrate(args)

    from .checks.context import Context
    from .engines import engines_for
    from .runner import run_groups

    dtypes = ("float64", "float32") if args.dtype == "both" else (args.dtype,)
    engines = engines_for(args.device, dtypes, allow_tf32=args.allow_tf32)
    ctx = Context(engines=engines, seed=args.seed, quick=args.quick,
                  iters=args.iters or (QUICK_ITERS if args.quick else BOOK_ITERS),
                  data_dir=args.data_dir, progress=not args.no_progress,
                  download_timeout=args.download_timeout,
                  replay_all=args.replay_all)
    groups = list(GROUP_NAMES) if args.command == "all" else [args.command]
    # A bar per group in a terminal; in a CI log, start/heartbeat/end lines (verify.progress).
    prog = Progress("off" if args.no_progress else "auto")
    start = time.perf_counter()
    with _guard(engines, args.allow_tf32):
        checks: list[CheckResult] = [*_precision_checks(engines, args.allow_tf32)]
        for g in groups:
            if args.fail_fast and not all(c.passed for c in checks):
                break  # the failure is known: the remaining groups would only cost time
            with prog.stage(f"{g} checks", unit="checks") as st:
                new = run_groups(ctx, [g])
                st.advance(len(new))
            checks += new
        # Recorded inside the guard: the settings the checks actually ran with.
        env = _environment(ctx, args, time.perf_counter() - start)
    report = Report(checks=checks, environment=env)
    print(format_table(report, color=sys.stdout.isatty()))
    if args.save or saved:
        from .compare_runs import against, attach_record
        from .report.writers.json_report import write_json

        attach_record(report, ctx)
        if args.save:
            write_json(report, args.save)
    _write_outputs(report, ctx, args)
    if saved:
        status = against(args.against, report, saved)
        return status if status == 2 else max(status, 0 if report.passed else 1)
    return 0 if report.passed else 1


def _saved_run(path: str | None):
    """The run saved at ``--against PATH`` (report, record), or None; exit 2 when PATH is not a
    record."""
    if path is None:
        return None
    from .compare_runs import BadRecord, load_record

    try:
        return load_record(path)
    except BadRecord as exc:
        print(f"nnparity: error: --against: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def _guard(engines: list, allow_tf32: bool):
    """Reference precision for the run (TF32 off, deterministic algorithms) unless TF32 is
    declared; the precision check then confirms what was in force."""
    if not any(e.framework == "torch" for e in engines):
        import contextlib

        return contextlib.nullcontext()
    from reference_torch.device import precision_guard

    return precision_guard(allow_tf32=allow_tf32)


def _precision_checks(engines: list, allow_tf32: bool) -> list[CheckResult]:
    """Refuse to claim reference parity while TF32 is on, unless it was declared."""
    out = []
    torch_engines = [e for e in engines if e.framework == "torch"]
    if not torch_engines:
        return out
    from reference_torch.device import PrecisionError, PrecisionSettings, assert_reference_precision

    settings = PrecisionSettings.current()
    try:
        assert_reference_precision(allow_tf32=allow_tf32)
        passed, msg = True, ""
    except PrecisionError as e:
        passed, msg = False, str(e)
    out.append(CheckResult(
        name="precision settings (TF32 off or declared)", group="environment", passed=passed,
        max_abs_err=0.0, max_rel_err=0.0, where=_settings_summary(settings),
        tolerance_class="exact",
        rtol=0.0, atol=0.0, message=msg, details={"settings": str(settings)}))
    return out


def _data_line(description: str | None) -> str:
    """What the run read, with the way to the full set when it was the bundled subset."""
    if description is None:
        return "not loaded"
    if description.startswith("bundled"):
        return f"{description}; for the full set: --data-dir DIR or $NNPARITY_DATA_DIR"
    return description


def _settings_summary(settings: object) -> str:
    """The precision settings in a few words (the whole record goes into the details)."""
    tf32 = getattr(settings, "allow_tf32_matmul", None) or getattr(settings, "allow_tf32_cudnn",
                                                                   None)
    det = getattr(settings, "deterministic_algorithms", None)
    prec = getattr(settings, "float32_matmul_precision", "?")
    return (f"TF32 {'on' if tf32 else 'off'}, matmul precision {prec}, deterministic "
            f"algorithms {'on' if det else 'off'}")


def _environment(ctx, args: argparse.Namespace, seconds: float) -> dict:
    env = {
        "python": platform.python_version(), "numpy": np.__version__,
        "platform": platform.platform(), "machine": platform.machine(),
        "cpu_count": os.cpu_count(), "command": args.command, "seed": args.seed,
        "iters": ctx.iters, "quick": ctx.quick,
        "engines": [e.name for e in ctx.engines], "reference": ctx.reference.name,
        "data": _data_line(ctx.data_description), "seconds": round(seconds, 2),
        "known_differences": ctx.known_differences,
        "golden": ctx.golden or "not checked (no training group in this run)",
    }
    try:
        import torch
        import torchvision

        from reference_torch.device import environment_info

        dev = next((e.device for e in ctx.engines if e.framework == "torch"), "cpu")
        env["torch"] = torch.__version__
        env["torchvision"] = torchvision.__version__
        env["torch_environment"] = environment_info(dev)
    except ImportError:  # pragma: no cover
        env["torch"] = "not installed"
    return env


def _add_output_options(p: argparse.ArgumentParser) -> None:
    """One ``--<format> PATH`` option per registered report format, and ``--report-dir``."""
    for w in WRITERS.values():
        if w.option:
            p.add_argument(w.option, metavar="PATH", help=w.help)
    names = ", ".join(w.filename for w in WRITERS.values())
    p.add_argument("--report-dir", metavar="PATH",
                   help=f"write {names} and PNG plots into this folder, replaced as a whole "
                   "(a new or empty folder, or one an earlier --report-dir wrote)")


def _write_outputs(report: Report, ctx, args: argparse.Namespace) -> None:
    """Each requested format atomically; the report folder as one set (see report.atomic)."""
    for w in WRITERS.values():
        path = getattr(args, w.dest, None) if w.dest else None
        if path:
            w.write(report, path)
    if args.report_dir:
        out = write_report_set(report, args.report_dir,
                               extra=lambda tmp: _plots(report, ctx, tmp))
        print(f"reports written to {out}/", file=sys.stderr)


def _plots(report: Report, ctx, out: Path) -> None:
    """One PNG per candidate: curves overlaid and their difference with band and divergence."""
    from .plots import plot_fast_paths, plot_training_comparison
    from .tolerances import curve_band, flip_band

    curves = ctx.curves
    if not curves:
        return
    ref = curves["reference"]
    n = len(ref.train_loss_list)
    subtitle = (f"{(ctx.data_description or 'data not loaded').split(' from ')[0]}, "
                f"{n:,} iterations, seed {ctx.seed}")

    def loss_band(tclass: str, length: int) -> np.ndarray:
        return curve_band(tclass, np.arange(length)) * np.abs(
            np.asarray(ref.train_loss_list[:length]))

    for eng in ctx.engines:
        hist = curves.get(eng.name)
        if hist is None:
            continue
        first = next((c.first_divergence_step for c in report.checks
                      if c.name == f"free-running loss curve ({eng.name})"), None)
        plot_training_comparison(
            out / f"training_{eng.name.replace('/', '_')}.png",
            loss_a=hist.train_loss_list, loss_b=ref.train_loss_list,
            acc_a={"train": hist.train_acc_list, "test": hist.test_acc_list},
            acc_b={"train": ref.train_acc_list, "test": ref.test_acc_list},
            label_a=eng.name, label_b=ctx.reference.name,
            loss_band=loss_band(eng.tolerance_class, n),
            # allowed change of a correct count, as a fraction of the smaller (test) set
            acc_band=flip_band(eng.tolerance_class, 70_000) / 10_000, first_divergence=first,
            subtitle=subtitle, rounding_units=eng.tolerance_class == "float64")
    fast = {label: (h, tc) for label, (h, tc) in ctx.fast_curves.items() if h.train_loss_list}
    if fast:
        plot_fast_paths(
            out / "training_fast_paths.png", reference_loss=ref.train_loss_list,
            losses={label: h.train_loss_list for label, (h, _) in fast.items()},
            bands={label: loss_band(tc, min(n, len(h.train_loss_list)))
                   for label, (h, tc) in fast.items()},
            test_acc={label: h.test_acc_list or [float("nan")] for label, (h, _) in fast.items()},
            reference_test_acc=ref.test_acc_list or [float("nan")], subtitle=subtitle)


def _calibrate(args: argparse.Namespace) -> int:
    from .calibrate import calibrate
    from .engines import engines_for
    from .report.codec import dumps

    # the checks' precision (TF32 off, or on when declared), so the bounds fit what they judge
    with _guard(engines_for(args.device), args.allow_tf32):
        out = calibrate(seeds=args.seeds or 20, iters=args.iters or 300, device=args.device,
                        data_dir=args.data_dir, quick=args.quick, allow_tf32=args.allow_tf32)
    text = dumps(out, "calibration", indent=1)  # strict JSON: a NaN/inf error as "nan"/"inf"
    print(text, end="")
    if args.json:
        write_file(args.json, text.encode("utf-8"))
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())

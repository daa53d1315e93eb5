"""Generated mutants of the numerics and data layer, judged by ``python -m verify --quick``.

    python scripts/mutants.py --count 150 --seed 0            # run (resumable), then summarise
    python scripts/mutants.py --list                          # the sample, nothing run
    python scripts/mutants.py --summary                       # the summary of what has run
    python scripts/mutants.py --shard 0/2 --results a.json    # one of two judges side by side
    python scripts/mutants.py --merge a.json b.json           # their results into --results

Each mutant (scripts/mutator.py: one operator applied at one place) is written into a COPY of
the working tree (a temporary folder; the checkout is never touched), and the judge runs there
with the copy first on PYTHONPATH: killed when verify exits non-zero (a failed check, or a
crash), survived when it passes, ``timeout`` when it runs past ``--timeout`` (counted as killed,
reported apart).  A result is written (the whole file, atomically) after each mutant, so a run
stopped at any point resumes with the mutants not yet judged.  docs/mutants.md has the method.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

_spec = importlib.util.spec_from_file_location("mutator", Path(__file__).with_name("mutator.py"))
mutator = importlib.util.module_from_spec(_spec)
sys.modules["mutator"] = mutator  # dataclasses look the module up by name
_spec.loader.exec_module(mutator)

#: The numerics modules of both engines and the data layer (the issue's scope).
NUMERICS = ("functions", "information", "gradient", "networks", "optimizers", "plan", "runrules",
            "training", "fastpath", "landscape")
TARGETS = tuple(
    [f"reference_numpy/{m}.py" for m in (*NUMERICS, "idx", "mnist", "mnist_files")]
    + [f"reference_torch/{m}.py" for m in (*NUMERICS, "distributed", "mnist")])

JUDGE = ("-m", "verify", "--quick", "--fail-fast", "--no-progress")
DEFAULT_RESULTS = ROOT / "mutant-results" / "results.json"


def all_mutants(root: Path = ROOT, targets: tuple[str, ...] = TARGETS) -> list:
    out = []
    for rel in targets:
        out += mutator.mutants((root / rel).read_text(encoding="utf-8"), rel)
    return out


def _git(root: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True,
                          timeout=60, check=True).stdout.strip()


def _commit(root: Path) -> str:
    head = _git(root, "rev-parse", "HEAD")
    dirty = _git(root, "status", "--porcelain", "--", *TARGETS, "verify")
    return head + ("+dirty" if dirty else "")


def _write_json(path: Path, data: dict) -> None:
    """The whole file through a temporary beside it, fsync, replace: never half-written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=1, sort_keys=True)
        f.write("\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def copy_tree(root: Path, dest: Path) -> None:
    """The files git knows (tracked, and untracked ones not ignored), results folder left out."""
    files = _git(root, "ls-files", "--cached", "--others", "--exclude-standard").splitlines()
    for rel in files:
        if rel.startswith("mutant-results/"):
            continue
        src = root / rel
        if src.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)


def check_imports(tree: Path) -> None:
    """The judge must load the copy's packages, not an installed checkout's."""
    env = {**os.environ, "PYTHONPATH": str(tree), "PYTHONDONTWRITEBYTECODE": "1"}
    code = ("import reference_numpy, reference_torch, verify; "
            "print(reference_numpy.__file__, reference_torch.__file__, verify.__file__)")
    out = subprocess.run([sys.executable, "-c", code], cwd=tree, env=env, capture_output=True,
                         text=True, timeout=300, check=True).stdout.split()
    stray = [f for f in out if not Path(f).resolve().is_relative_to(tree.resolve())]
    if stray:
        raise RuntimeError(f"the judge would import {stray}, outside the copy {tree}")


def judge(tree: Path, timeout: float, extra: list[str]) -> dict:
    """Run verify in ``tree``; its verdict, seconds and the line that says why."""
    env = {**os.environ, "PYTHONPATH": str(tree), "PYTHONDONTWRITEBYTECODE": "1",
           "MPLBACKEND": "Agg"}
    start = time.monotonic()
    # own process group, so a timeout or a stop ends the judge's children too
    p = subprocess.Popen([sys.executable, *JUDGE, *extra], cwd=tree, env=env, text=True,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        p.communicate()
        return {"status": "timeout", "rc": None, "seconds": round(time.monotonic() - start, 1),
                "why": f"no verdict within {timeout:.0f} s"}
    except BaseException:
        os.killpg(p.pid, signal.SIGKILL)
        p.communicate()
        raise
    secs = round(time.monotonic() - start, 1)
    if p.returncode == 0:
        return {"status": "survived", "rc": 0, "seconds": secs, "why": ""}
    fails = [ln.strip() for ln in out.splitlines() if "FAIL" in ln]
    if fails:
        how, why = "check", fails[0]
    else:
        how, why = "crash", _exception_line(err) or f"exit status {p.returncode}"
    return {"status": "killed", "how": how, "rc": p.returncode, "seconds": secs,
            "why": portable(" ".join(why.split()), tree)[:240]}


def portable(text: str, tree: Path) -> str:
    """``text`` without this machine's paths (the results are committed): the copy's folder,
    the data folder and the temporary folder by name."""
    places = [(str(tree), "<tree>"),
              (os.environ.get("NNPARITY_DATA_DIR", ""), "$NNPARITY_DATA_DIR"),
              (tempfile.gettempdir(), "$TMPDIR")]
    for path, name in places:
        if path:
            text = text.replace(path.rstrip("/"), name)
    return text


def _exception_line(stderr: str) -> str:
    """The traceback's last ``SomeError: message`` line (a message can span lines, e.g. one
    that prints a tensor), else the last line."""
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    found = [ln for ln in lines if re.match(r"^[A-Za-z_][\w.]*(Error|Exception|Exit|Interrupt)\b:?",
                                            ln)]
    return (found or lines or [""])[-1]


def summarize(results: dict) -> dict:
    recs = list(results["results"].values())
    count = {s: sum(r["status"] == s for r in recs)
             for s in ("killed", "survived", "timeout", "not-applicable")}
    judged = count["killed"] + count["survived"] + count["timeout"]
    survivors = sorted((r for r in recs if r["status"] == "survived"),
                       key=lambda r: (r["path"], r["line"]))
    return {
        "commit": results["meta"].get("commit"), "seed": results["meta"].get("seed"),
        "sample_size": results["meta"].get("count"), "run": len(recs), **count,
        "killed_by_check": sum(r.get("how") == "check" for r in recs),
        "killed_by_crash": sum(r.get("how") == "crash" for r in recs),
        "kill_rate": round((count["killed"] + count["timeout"]) / judged, 4) if judged else None,
        "seconds_per_mutant": round(sum(r.get("seconds", 0) for r in recs) / len(recs), 1)
        if recs else None,
        "baseline_seconds": results["meta"].get("baseline_seconds"),
        "survivors": [{"id": r["id"], "where": f"{r['path']}:{r['line']}",
                       "operator": r["operator"], "change": f"{r['before']}  ->  {r['after']}"}
                      for r in survivors],
    }


def _print_summary(s: dict) -> None:
    rate = "n/a" if s["kill_rate"] is None else f"{100 * s['kill_rate']:.1f}%"
    print(f"mutants run {s['run']} of {s['sample_size']} (seed {s['seed']}, at {s['commit']}): "
          f"killed {s['killed']} (check {s['killed_by_check']}, crash {s['killed_by_crash']}), "
          f"survived {s['survived']}, timeout {s['timeout']}, not applicable "
          f"{s['not-applicable']}; kill rate {rate}")
    for v in s["survivors"]:
        print(f"  survived  {v['where']} [{v['operator']}] {v['change'][:200]}")


def _parse_shard(p: argparse.ArgumentParser, text: str | None) -> tuple[int, int]:
    if text is None:
        return 0, 1
    m = re.fullmatch(r"(\d+)/(\d+)", text)
    if not m or not int(m[1]) < int(m[2]):
        p.error(f"--shard: expected I/N with 0 <= I < N, e.g. 0/2, got {text!r}")
    return int(m[1]), int(m[2])


def _parse_deadline(text: str | None) -> float | None:
    if text is None:
        return None
    when = dt.datetime.fromisoformat(text)
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    return when.timestamp()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seed", type=int, default=0, help="seed of the sample (default 0)")
    p.add_argument("--count", type=int, default=150, help="mutants in the sample (default 150)")
    p.add_argument("--results", type=Path, default=DEFAULT_RESULTS,
                   help="results JSON, read to resume and rewritten after each mutant")
    p.add_argument("--summary-json", type=Path, default=None,
                   help="where the summary goes (default: summary.json beside --results)")
    p.add_argument("--timeout", type=float, default=None,
                   help="seconds per mutant (default: 3 x the clean run's, at least 120)")
    p.add_argument("--stop-at", default=None, metavar="ISO",
                   help="start no mutant after this time (UTC unless given), e.g. "
                   "2026-12-02T02:15; a judge still running then is stopped and not recorded")
    p.add_argument("--limit", type=int, default=None, help="judge at most this many now")
    p.add_argument("--list", action="store_true", help="print the sample and exit")
    p.add_argument("--summary", action="store_true", help="print the summary and exit")
    p.add_argument("--shard", default=None, metavar="I/N",
                   help="judge only the sample's mutants whose position is I modulo N, so N "
                   "judges (each with its own --results) can run side by side")
    p.add_argument("--merge", type=Path, nargs="+", default=None, metavar="JSON",
                   help="merge these results files (same seed and count) into --results")
    p.add_argument("--judge-arg", action="append", default=[],
                   help="extra argument for python -m verify (repeatable)")
    args = p.parse_args(argv)
    if args.count < 1:
        p.error(f"--count: expected a positive number, got {args.count}")
    deadline = _parse_deadline(args.stop_at)
    shard = _parse_shard(p, args.shard)
    summary_path = args.summary_json or args.results.with_name("summary.json")

    population = all_mutants()
    chosen = mutator.sample(population, args.count, args.seed)
    if args.list:
        print(f"{len(population)} mutants in {len(TARGETS)} files; sample of {len(chosen)} "
              f"(seed {args.seed}):")
        for m in chosen:
            print(" ", m.diff[:200])
        return 0
    results = {"meta": {}, "results": {}}
    if args.results.exists():
        results = json.loads(args.results.read_text(encoding="utf-8"))
        if (results["meta"].get("seed"), results["meta"].get("count")) != (args.seed,
                                                                          args.count):
            p.error(f"--results: {args.results} holds seed {results['meta'].get('seed')} and "
                    f"count {results['meta'].get('count')}; give another --results path")
    if args.merge:
        for path in args.merge:
            part = json.loads(path.read_text(encoding="utf-8"))
            if (part["meta"].get("seed"), part["meta"].get("count")) != (args.seed, args.count):
                p.error(f"--merge: {path} holds seed {part['meta'].get('seed')} and count "
                        f"{part['meta'].get('count')}, not {args.seed} and {args.count}")
            results["results"].update(part["results"])
            results["meta"] = {**part["meta"], **results["meta"]}
        _write_json(args.results, results)
        summary = summarize(results)
        _write_json(summary_path, summary)
        _print_summary(summary)
        return 0
    if args.summary:
        _print_summary(summarize(results))
        return 0
    commit = _commit(ROOT)
    if results["meta"].get("commit") not in (None, commit):
        print(f"note: results begun at {results['meta']['commit']}, resuming at {commit}",
              file=sys.stderr)
    results["meta"].update(seed=args.seed, count=args.count, commit=commit,
                           population=len(population), targets=list(TARGETS),
                           judge=" ".join(["python", *JUDGE, *args.judge_arg]))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # finally-blocks end the judge
    todo = [m for i, m in enumerate(chosen)
            if m.id not in results["results"] and i % shard[1] == shard[0]][:args.limit]
    with tempfile.TemporaryDirectory(prefix="nnparity-mutants-") as tmp:
        tree = Path(tmp)
        copy_tree(ROOT, tree)
        check_imports(tree)
        if "baseline_seconds" not in results["meta"]:
            base = judge(tree, timeout=1800, extra=args.judge_arg)
            if base["status"] != "survived":
                print(f"the clean tree fails the judge ({base}); nothing to measure",
                      file=sys.stderr)
                return 1
            results["meta"]["baseline_seconds"] = base["seconds"]
            _write_json(args.results, results)
        timeout = args.timeout or max(120.0, 3 * results["meta"]["baseline_seconds"])
        for i, m in enumerate(todo, 1):
            if deadline is not None and time.time() >= deadline:
                print("stop time reached", file=sys.stderr)
                break
            target = tree / m.path
            clean = target.read_text(encoding="utf-8")
            try:
                target.write_text(mutator.apply(clean, m), encoding="utf-8")
            except mutator.NotApplicable as e:
                rec = {"status": "not-applicable", "why": str(e), "seconds": 0.0}
            else:
                try:
                    left = None if deadline is None else deadline - time.time()
                    if left is not None and left < timeout:
                        rec = judge(tree, timeout=max(1.0, left), extra=args.judge_arg)
                        if rec["status"] == "timeout":  # cut by the stop time: no verdict
                            print("stop time reached during a judge", file=sys.stderr)
                            break
                    else:
                        rec = judge(tree, timeout=timeout, extra=args.judge_arg)
                finally:
                    target.write_text(clean, encoding="utf-8")
            results["results"][m.id] = {**m.to_dict(), **rec, "commit": commit}
            _write_json(args.results, results)
            print(f"[{i}/{len(todo)}] {rec['status']:<8} {rec['seconds']:6.1f} s  "
                  f"{m.diff[:150]}", flush=True)
    summary = summarize(results)
    _write_json(summary_path, summary)
    _print_summary(summary)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

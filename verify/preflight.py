"""What ``python -m verify`` checks before its first computation.

Bad usage must cost nothing: a wrong output path, device, data folder or size is refused up
front with one line on stderr and exit status 2 (argparse's ``parser.error``), before any check
runs and before any file or folder is created, so no result is computed and then lost.

Order: cheap checks first (counts, sizes, output paths), then the device (imports torch), then
the data folder (reads the files).
"""

from __future__ import annotations

import argparse
import math
import os
from pathlib import Path

from .plans import BOOK_ITERS, QUICK_ITERS
from .report.atomic import TMP_PREFIX, replace_refusal
from .report.writers import WRITERS, report_set_patterns

__all__ = ["available_bytes", "estimate_bytes", "preflight", "scaling_bytes"]

#: Commands that train for --iters iterations.
_TRAINING_COMMANDS = frozenset({"training", "all", "selftest", "calibrate"})
#: Device types the torch engines run on.
_DEVICE_TYPES = ("cpu", "cuda", "mps")

#: Memory of a run apart from its iterations: the full ``python -m verify`` peaked at 2267 MiB
#: RSS at 10000 iterations (benchmarks/RESULTS.md); rounded up to 2.5 GiB.
BASE_BYTES = int(2.5 * 2**30)
#: Per training iteration, derived from what lives at the same time: the plan's batch indices
#: (100 int64 = 800 B), their copy on the torch device (800 B), and about ten loss/accuracy
#: curves kept for the plots (a Python float and its list slot, 32 B, plus 8 B as an array):
#: 2000 B, taken as 3 KiB for the temporaries of the comparisons.
PER_ITER_BYTES = 3 * 2**10
#: calibrate also keeps, per replayed step of a seed, 9 error triples per engine for 3 engines
#: (ndarray of 3 floats ~ 130 B): about 3.5 KiB, and per seed and class the whole loss curve.
CALIBRATE_PER_ITER_BYTES = PER_ITER_BYTES + int(3.5 * 2**10)
CALIBRATE_CURVE_BYTES = 4 * 8  # 4 tolerance classes x float64, per seed and iteration


def _iters(args: argparse.Namespace) -> int:
    """The iterations the command will run (the defaults of cli, selftest and calibrate)."""
    if args.iters is not None:
        return args.iters
    default = QUICK_ITERS if args.quick else BOOK_ITERS
    return {"selftest": 60, "calibrate": 300}.get(args.command, default)


def scaling_bytes(args: argparse.Namespace) -> int:
    """The memory that grows with the options (iterations, seeds); 0 for other commands."""
    if args.command not in _TRAINING_COMMANDS:
        return 0
    iters = _iters(args)
    if args.command == "calibrate":
        seeds = args.seeds or 20
        return iters * (CALIBRATE_PER_ITER_BYTES + seeds * CALIBRATE_CURVE_BYTES)
    return iters * PER_ITER_BYTES


def estimate_bytes(args: argparse.Namespace) -> int:
    """Peak memory the command would need: :data:`BASE_BYTES` plus :func:`scaling_bytes`."""
    return BASE_BYTES + scaling_bytes(args)


def available_bytes() -> int | None:
    """Memory available to a new allocation (``MemAvailable``), or None where unknown."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None


def _gib(n: float) -> str:
    return f"{n / 2**30:.1f} GiB"


def check_counts(p: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    if args.seeds is not None and args.seeds < 1:
        p.error(f"--seeds: expected a positive number of seeds, got {args.seeds}")
    timeout = getattr(args, "download_timeout", None)
    if timeout is not None and not (math.isfinite(timeout) and timeout > 0):
        p.error(f"--download-timeout: expected a positive number of seconds, got {timeout}")


def check_sizes(p: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    # Refused only when the part the options control cannot fit on its own: the base figure
    # is a peak RSS that counts shared libraries too, so judging it against MemAvailable could
    # refuse a default run that would have worked.
    need, have = estimate_bytes(args), available_bytes()
    if have is not None and scaling_bytes(args) > have:
        what = (f"--iters {_iters(args)}" if args.command != "calibrate"
                else f"--iters {_iters(args)} with --seeds {args.seeds or 20}")
        p.error(f"--iters: {what} would need about {_gib(need)} of memory "
                f"({_gib(scaling_bytes(args))} for the iterations, {_gib(BASE_BYTES)} for the "
                f"rest), but {_gib(have)} is available; expected fewer iterations")


def _writable_ancestor(path: Path) -> str:
    """'' when files can be created at ``path`` (its nearest existing ancestor is a folder we
    can write in), else why not.  Creates nothing that outlives the call."""
    a = path.parent
    while not a.exists() and a != a.parent:
        a = a.parent
    if not a.is_dir():
        return f"{a} is a file, not a folder"
    probe = a / f"{TMP_PREFIX}{os.getpid()}-probe-write"
    try:
        fd = os.open(probe, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except OSError as e:
        return f"cannot create files in {a} ({e.strerror or e})"
    os.close(fd)
    os.unlink(probe)
    return ""


def check_outputs(p: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    seen: dict[Path, str] = {}
    report_dir = Path(os.path.realpath(args.report_dir)) if args.report_dir else None
    for w in WRITERS.values():
        value = getattr(args, w.dest, None) if w.dest else None
        if not value:
            continue
        path = Path(os.path.realpath(value))
        if path.is_dir():
            p.error(f"{w.option}: expected a file path, got {value!r}, which is a folder")
        if value.endswith(("/", os.sep)):
            p.error(f"{w.option}: expected a file path, got {value!r}, a folder name (it ends "
                    f"with {value[-1]!r})")
        why = _writable_ancestor(path)
        if why:
            p.error(f"{w.option}: cannot write {value!r}: {why}")
        if path in seen:
            p.error(f"{w.option}: {value!r} is also the path given to {seen[path]}")
        if report_dir is not None and report_dir in path.parents:
            p.error(f"{w.option}: {value!r} lies inside --report-dir {args.report_dir!r}, "
                    f"which is replaced as a whole; expected a path outside it")
        seen[path] = w.option
    if report_dir is not None:
        if report_dir.exists() and not report_dir.is_dir():
            p.error(f"--report-dir: expected a folder, got {args.report_dir!r}, an existing file")
        why = replace_refusal(report_dir, report_set_patterns())
        if why:
            p.error(f"--report-dir: {why}")
        # The folder is replaced by renaming in its parent, so the parent must be writable.
        why = _writable_ancestor(report_dir)
        if why:
            p.error(f"--report-dir: cannot write {args.report_dir!r}: {why}")


def check_device(p: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    env = os.environ.get("NNPARITY_DEVICE", "").strip()
    if args.device is None and not env:
        return  # cuda if available, else cpu: always valid
    source = ("--device" if args.device is not None
              else f"--device (not given, so $NNPARITY_DEVICE={env!r} is used)")
    try:
        from reference_torch.device import resolve_device
    except ImportError:  # pragma: no cover - torch is a dependency
        p.error(f"{source}: torch is not installed, so there is no device to choose")
    try:
        dev = resolve_device(args.device)
    except (ValueError, TypeError) as e:
        # resolve_device names its own argument ("device: ..."); the CLI names the option.
        p.error(f"{source}: {str(e).split(': ', 1)[-1]}")
    if dev.type not in _DEVICE_TYPES:
        p.error(f"{source}: expected a device of type {', '.join(_DEVICE_TYPES)}, got {str(dev)!r}")


def check_data(p: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    env = os.environ.get("NNPARITY_DATA_DIR", "")
    if args.data_dir is None and not env:
        return  # cache, download or the bundled subset: found (or not) when loaded
    source = ("--data-dir" if args.data_dir is not None
              else f"--data-dir (not given, so $NNPARITY_DATA_DIR={env!r} is used)")
    from reference_numpy.mnist import MnistFormatError, load_mnist, locate_mnist

    try:
        # Presence and the headers (cheap, names a missing file), then every file in full
        # (header, counts, labels, checksum: about a second for the full set).  load_mnist keeps
        # the parsed files, so a command that reads the data does not read them twice.
        locate_mnist(args.data_dir, download=False, progress=False)
        load_mnist(normalize=False, data_dir=args.data_dir, download=False)
    except (OSError, MnistFormatError, ValueError, TypeError) as e:
        p.error(f"{source}: {e}")


def preflight(p: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Every check above, in order; the first failure exits with status 2."""
    check_counts(p, args)
    check_sizes(p, args)
    check_outputs(p, args)
    check_device(p, args)
    check_data(p, args)

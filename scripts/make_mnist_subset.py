"""Make the bundled MNIST subset (reference_numpy/data) from the full MNIST.

Writes the first ``--train`` training and first ``--test`` test images and labels as valid IDX
files (headers carry the new counts), gzip level 9 with mtime 0 so the output is reproducible,
plus ``SHA256SUMS.txt`` with the sha256 of each file's decompressed contents (the loader checks
them).  The source files are verified against the published checksums first.

    python scripts/make_mnist_subset.py --source PATH/TO/mnist [--out reference_numpy/data]

``--source`` defaults to ``$NNPARITY_DATA_DIR``.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import os
import sys
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--source",
        type=Path,
        default=os.environ.get("NNPARITY_DATA_DIR") or None,
        help="folder with the four full-MNIST .gz files (default: $NNPARITY_DATA_DIR)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=REPO_ROOT / "reference_numpy" / "data",
        help="output folder (default: reference_numpy/data in this checkout)",
    )
    parser.add_argument("--train", type=int, default=6000, help="training images (6000)")
    parser.add_argument("--test", type=int, default=1000, help="test images (1000)")
    args = parser.parse_args(argv)
    if args.source is None:
        parser.error("--source is required when NNPARITY_DATA_DIR is not set")

    if str(REPO_ROOT) not in sys.path:  # run from a checkout without installing
        sys.path.insert(0, str(REPO_ROOT))
    from reference_numpy._validate import atomic_write_bytes
    from reference_numpy.idx import encode_idx
    from reference_numpy.mnist import FILES, load_mnist

    # load_mnist checks the headers, counts and published checksums of the source files.
    (x_train, t_train), (x_test, t_test) = load_mnist(
        normalize=False, flatten=False, data_dir=args.source, download=False
    )
    for name, n, full in (
        ("--train", args.train, len(x_train)),
        ("--test", args.test, len(x_test)),
    ):
        if not 0 < n <= full:
            parser.error(f"{name}: expected 1..{full}, got {n}")

    parts = {
        FILES[0]: x_train[: args.train, 0],
        FILES[1]: t_train[: args.train].astype(np.uint8),
        FILES[2]: x_test[: args.test, 0],
        FILES[3]: t_test[: args.test].astype(np.uint8),
    }
    sums = []
    total = 0
    for name, arr in parts.items():
        raw = encode_idx(arr)
        packed = gzip.compress(raw, compresslevel=9, mtime=0)
        os.chmod(atomic_write_bytes(args.out / name, packed), 0o644)  # mkstemp makes 0600
        sums.append(f"{hashlib.sha256(raw).hexdigest()}  {name.removesuffix('.gz')}\n")
        total += len(packed)
        print(f"{args.out / name}: {arr.shape[0]} records, {len(packed)} bytes")
    os.chmod(atomic_write_bytes(args.out / "SHA256SUMS.txt", "".join(sums).encode("ascii")), 0o644)
    print(f"{args.out / 'SHA256SUMS.txt'}: written; {total} bytes of .gz in all")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Saved runs: ``--save`` records a run, ``compare A B`` and ``--against`` judge one against
another under verify's tolerance classes, bad input exits 2 with one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from verify.cli import main
from verify.compare_runs import RECORD_KEY


def _cli(argv, capsys) -> tuple[int, str, str]:
    # wide enough that no row name wraps (the table fits the terminal's width)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("COLUMNS", "300")
        try:
            rc = main(argv)
        except SystemExit as exc:  # argparse and --against's refusal exit this way
            rc = int(exc.code)
    out = capsys.readouterr()
    return rc, out.out, out.err


@pytest.fixture(scope="module")
def saved(tmp_path_factory, mnist_dir) -> Path:
    """A training run of 30 iterations and every regime capped at 20, saved with --save."""
    folder = tmp_path_factory.mktemp("saved")
    path = folder / "a.json"
    rc = main(["training", "--iters", "30", "--no-progress", "--data-dir", str(mnist_dir),
               "--save", str(path)])
    assert rc == 0
    regimes_path = folder / "regimes.json"
    assert main(["regimes", "--iters", "20", "--no-progress", "--data-dir", str(mnist_dir),
                 "--save", str(regimes_path)]) == 0
    # one record holding both, as `python -m verify --save` writes it
    body = json.loads(path.read_text())
    body["environment"][RECORD_KEY]["runs"].update(
        json.loads(regimes_path.read_text())["environment"][RECORD_KEY]["runs"])
    path.write_text(json.dumps(body))
    return path


def _edit(src: Path, dst: Path, change) -> Path:
    body = json.loads(src.read_text())
    change(body["environment"][RECORD_KEY]["runs"])
    dst.write_text(json.dumps(body))
    return dst


def test_save_records_every_engine_of_every_run(saved):
    runs = json.loads(saved.read_text())["environment"][RECORD_KEY]["runs"]
    assert "training" in runs and "regimes/Adam" in runs and "regimes/early stopping" in runs
    engines = runs["training"]["engines"]
    assert set(engines) == {"reference", "torch/float64", "torch/float32", "numpy/float32"}
    assert len(engines["reference"]["train_loss"]) == 30
    assert engines["reference"]["fingerprint"] and engines["torch/float32"]["fingerprint"] is None


def test_a_run_compared_with_itself_agrees(saved, capsys):
    rc, out, err = _cli(["compare", str(saved), str(saved)], capsys)
    assert rc == 0, out + err
    assert "regimes/Adam: loss curve" in out and "training: loss curve" in out


def test_a_loss_beyond_the_band_fails_naming_the_row(saved, tmp_path, capsys):
    def bump(runs):
        runs["training"]["engines"]["torch/float32"]["train_loss"][10] *= 1 + 1e-4

    b = _edit(saved, tmp_path / "b.json", bump)
    rc, out, _ = _cli(["compare", str(saved), str(b), "--json", str(tmp_path / "c.json")],
                      capsys)
    assert rc == 1
    assert "training: loss curve (torch/cpu/float32)" in out
    report = json.loads((tmp_path / "c.json").read_text())
    failed = [c for c in report["checks"] if not c["passed"]]
    assert [c["name"] for c in failed] == ["training: loss curve (torch/cpu/float32)"]
    assert failed[0]["first_divergence_step"] == 10


def test_a_float64_loss_within_float32_noise_still_fails(saved, tmp_path, capsys):
    # 1e-9 relative is far inside float32's band but far outside float64's
    def bump(runs):
        runs["regimes/Adam"]["engines"]["reference"]["train_loss"][5] *= 1 + 1e-9

    rc, out, _ = _cli(["compare", str(saved), str(_edit(saved, tmp_path / "b.json", bump))],
                      capsys)
    assert rc == 1 and "regimes/Adam: loss curve (numpy/float64)" in out


def test_changed_counts_and_fingerprints_fail(saved, tmp_path, capsys):
    def counts(runs):
        acc = runs["training"]["engines"]["torch/float64"]["test_acc"]
        acc[0] += 5 / 10_000

    rc, out, _ = _cli(["compare", str(saved), str(_edit(saved, tmp_path / "b.json", counts))],
                      capsys)
    assert rc == 1 and "training: correct counts at the evaluations (torch/cpu/float64)" in out

    def fingerprint(runs):
        runs["training"]["engines"]["reference"]["fingerprint"]["W2"][0] *= 1 + 1e-9

    rc, out, _ = _cli(["compare", str(saved), str(_edit(saved, tmp_path / "c.json",
                                                        fingerprint))], capsys)
    assert rc == 1 and "training: final parameters' fingerprint (numpy/float64)" in out


@pytest.mark.parametrize("case", ["missing", "not json", "not a report", "no record", "plan"])
def test_bad_input_exits_2_with_one_line(saved, tmp_path, capsys, case):
    bad = tmp_path / "bad.json"
    if case == "missing":
        expect = "no such file"
    elif case == "not json":
        bad.write_text("{not json")
        expect = "not a verify report"
    elif case == "not a report":
        bad.write_text(json.dumps({"checks": []}))
        expect = "not a verify report"
    elif case == "no record":
        body = json.loads(saved.read_text())
        del body["environment"][RECORD_KEY]
        bad.write_text(json.dumps(body))
        expect = "without a run record"
    else:
        _edit(saved, bad, lambda runs: runs["training"]["plan"].update(iters=31))
        expect = "different plans: training.plan.iters: 30 in A, 31 in B"
    rc, out, err = _cli(["compare", str(saved), str(bad)], capsys)
    assert rc == 2
    assert len(err.strip().splitlines()) == 1 and expect in err, err
    assert out == ""


def test_against_compares_the_new_run_and_refuses_a_bad_record_first(saved, tmp_path,
                                                                     mnist_dir, capsys):
    rc, out, err = _cli(["training", "--against", str(tmp_path / "missing.json")], capsys)
    assert rc == 2 and "no such file" in err and out == ""  # refused before running
    rc, out, err = _cli(["training", "--iters", "30", "--no-progress", "--data-dir",
                         str(mnist_dir), "--against", str(saved)], capsys)
    assert rc == 0, out + err
    assert "training: loss curve" in out

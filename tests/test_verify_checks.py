"""verify end to end: every check passes on the real references, planted bugs fail, CLI outputs."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from plant import plant

from verify import selftest
from verify.checks import GROUP_NAMES
from verify.checks.context import Context
from verify.cli import main
from verify.engines import engines_for
from verify.runner import run_groups
from verify.tolerances import TOLERANCES, tolerance_for


@pytest.fixture(scope="module")
def engines():
    return engines_for("cpu")


def _ctx(engines, mnist_dir, seed=0, iters=40):
    return Context(engines=engines, seed=seed, iters=iters, quick=True, data_dir=str(mnist_dir))


@pytest.mark.parametrize("group", GROUP_NAMES)
def test_every_group_passes_on_the_references(engines, mnist_dir, group):
    results = run_groups(_ctx(engines, mnist_dir), [group])
    assert results, f"group {group} produced no checks"
    failed = [r for r in results if not r.passed]
    assert not failed, "\n\n".join(r.message for r in failed)


def test_every_tolerance_carries_its_measurement():
    assert TOLERANCES
    for (tclass, kind), spec in TOLERANCES.items():
        assert "measured" in spec.justification, (tclass, kind)
        assert spec.rtol >= 0 and spec.atol_scale >= 0 and spec.frob >= 0


def test_small_planted_bugs_exceed_float32_bounds():
    # The two smallest bugs must stay outside the float32 class: a bias gradient scaled
    # by 1 + 1e-4 (normwise error exactly 1e-4) and a learning rate scaled by 1.001.
    assert tolerance_for("float32-cpu", "gradient").frob < 1e-4
    assert tolerance_for("float32-cpu", "replay_grad").frob < 1e-4
    # A learning rate x 1.001 (1e-3 of the update) is caught by the float64 class; in float32
    # it sits at the bound because late updates are rounded against |p| (measured 1.16e-4 x10).
    assert tolerance_for("float64", "replay_update").frob < 1e-3
    # (That assert_close's float32 defaults let the same bug through is shown with the real
    # comparator in test_verify_compare.py.)


SELFTEST_SAMPLE = [
    "bias gradient × (1 + 1e-4)",
    "learning rate × 1.001",
    "softmax without the max shift (overflows)",
    "batch index shifted by one in the training loop",
    "Adam's ε moved inside the square root",
    "numerical_gradient leaves a parameter perturbed",
    "torchvision images transposed",
    "ReLU'(0) = 1",
    "fast path only: fused step's learning rate × 1.001",
]


@pytest.mark.parametrize("name", SELFTEST_SAMPLE)
def test_planted_bug_is_caught(engines, mnist_dir, name):
    for bug in [b for b in selftest.BUGS if b.name == name]:
        ctx = _ctx(engines, mnist_dir, iters=30)
        with bug.plant():
            failed, error = selftest._failures(ctx, list(bug.groups))
        assert failed or error, f"planted bug not caught: {bug.name} ({bug.engine})"


def test_selftest_lists_at_least_twenty_bugs_in_both_engines():
    assert len(selftest.BUGS) >= 20
    assert {b.engine for b in selftest.BUGS} == {"numpy", "torch"}


def test_no_false_alarm_on_other_seeds(engines, mnist_dir):
    for seed in (1, 2):
        failed, error = selftest._failures(_ctx(engines, mnist_dir, seed=seed, iters=30),
                                           ["losses", "gradients", "optimizers", "training"])
        assert not failed and error is None, (seed, failed, error)


def test_cli_writes_every_report(tmp_path, mnist_dir, capsys):
    out = tmp_path / "rep"
    code = main(["optimizers", "--quick", "--no-progress", "--data-dir", str(mnist_dir),
                 "--report-dir", str(out), "--json", str(tmp_path / "r.json"),
                 "--junit", str(tmp_path / "r.xml")])
    assert code == 0
    table = capsys.readouterr().out
    assert "passed, 0 failed" in table
    data = json.loads((tmp_path / "r.json").read_text())
    assert data["passed"] is True and data["schema_version"] == "1.1"
    assert data["environment"]["reference"] == "numpy/float64"
    suite = ET.parse(tmp_path / "r.xml").getroot()
    assert len(suite.findall(".//testcase")) == len(data["checks"])
    assert (out / "summary.md").read_text().count("|") > 10
    assert sorted(p.name for p in out.iterdir()) == ["junit.xml", "report.json", "summary.md"]


def test_cli_training_writes_plots(tmp_path, mnist_dir):
    code = main(["training", "--quick", "--iters", "30", "--no-progress", "--data-dir",
                 str(mnist_dir), "--report-dir", str(tmp_path)])
    assert code == 0
    pngs = sorted(tmp_path.glob("training_*.png"))
    assert pngs and all(p.read_bytes()[:4] == b"\x89PNG" for p in pngs)
    assert tmp_path / "training_fast_paths.png" in pngs  # train's default paths, plotted too


def test_cli_exit_code_is_1_when_a_check_fails(mnist_dir, capsys):
    bug = next(b for b in selftest.BUGS if b.name == "momentum with the wrong sign")
    with bug.plant():
        code = main(["optimizers", "--quick", "--no-progress", "--data-dir", str(mnist_dir)])
    assert code == 1
    out = capsys.readouterr().out
    assert "FAIL" in out and "momentum" in out


@pytest.mark.parametrize("argv,msg", [
    (["--iters", "0"], "--iters: expected a positive number"),
    (["--seed", "-1"], "--seed: expected a non-negative integer"),
    (["--data-dir", "/nonexistent/folder"], "--data-dir: expected a folder"),
    (["sideways"], "invalid choice"),
])
def test_cli_bad_usage(argv, msg, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    assert msg in capsys.readouterr().err


# --------------------------------------------------------------------------- one judge


def _curve_obs(engine, loss, ref, tclass="float64", **kw):
    from verify.observe import Observation

    return Observation("free-running loss curve", "training", engine, tclass, "curve",
                       "train loss", np.asarray(loss, float), np.asarray(ref, float), **kw)


def test_curves_are_observations_judged_by_the_band():
    from verify.observe import judge

    ref = 2.3 * np.exp(-np.arange(300) / 100) + 0.1
    ok, off, short = judge([
        _curve_obs("cand", ref * (1 + 1e-16), ref, seconds=1.25),
        _curve_obs("off", ref * (1 + np.where(np.arange(300) >= 120, 1e-12, 0.0)), ref),
        _curve_obs("short", ref[:-1], ref),
    ])
    assert ok.passed and ok.seconds == 1.25 and ok.name == "free-running loss curve (cand)"
    assert not off.passed and off.first_divergence_step == 120
    assert "leaves the band at iteration 120" in off.message
    assert not short.passed and "iteration 299" in short.message


def test_a_nan_curve_is_a_failed_verdict():
    """A candidate whose loss became NaN (at some steps or all) fails with its iteration."""
    from verify.observe import judge

    ref = 2.3 * np.exp(-np.arange(50) / 10) + 0.1
    late = ref.copy()
    late[20:] = np.nan
    some, every = judge([_curve_obs("late", late, ref), _curve_obs("all", ref * np.nan, ref)])
    assert not some.passed and some.first_divergence_step == 20
    assert "leaves the band at iteration 20: nan" in some.message
    assert not every.passed and every.first_divergence_step == 0
    assert every.max_abs_err == np.inf


def test_flips_observation_counts_flips_and_changes_of_correct_counts():
    from verify.observe import Observation, judge

    pred = np.arange(70_000) % 10
    allowed = 2  # float64: 1.5e-5 of 70,000 examples, rounded up
    def obs(n_flips, counts_delta, evals=(3, 3)):
        a = pred.copy()
        a[:n_flips] += 1
        test = np.array([[5000, 5000], [6000, 6000 + counts_delta], [7000, 7000]])
        return Observation("accuracy curves via prediction flips", "training",
                           f"c{n_flips}/{counts_delta}/{evals[0]}", "float64", "flips",
                           "final parameters", a, pred,
                           series={"train_correct": np.zeros((3, 2), dtype=np.int64),
                                   "test_correct": test, "test_iters": np.array([0, 100, 200]),
                                   "evaluations": np.array(evals)})
    ok, flipped, net, fewer = judge([obs(allowed, 0), obs(allowed + 1, 0), obs(0, 3),
                                     obs(0, 0, (2, 3))])
    assert ok.passed and ok.atol == allowed and ok.max_abs_err == allowed
    assert not flipped.passed and "on 3 of 70000 examples" in flipped.message
    assert not net.passed and net.first_divergence_step == 100
    assert not fewer.passed


def test_calibrate_reads_observations_and_leaves_the_tables_alone(mnist_dir):
    import copy

    from verify import tolerances
    from verify.calibrate import calibrate

    before = copy.deepcopy((tolerances.TOLERANCES, tolerances.CURVE_BANDS,
                            tolerances.FLIP_FRACTION))
    out = calibrate(seeds=1, iters=3, groups=("optimizers", "training"),
                    data_dir=str(mnist_dir), device="cpu")
    assert (tolerances.TOLERANCES, tolerances.CURVE_BANDS, tolerances.FLIP_FRACTION) == before
    assert {"float64/update", "float64/replay_grad", "float32-cpu/replay_update"} <= set(
        out["max_errors"])
    assert set(out["curve_envelope"]) == {"float64", "float32-cpu"}
    assert set(out["flips"]) == {"float64", "float32-cpu"}


def test_tolerance_kinds_are_one_registry():
    from verify.tolerances import KINDS

    assert {k for _, k in TOLERANCES} <= set(KINDS)
    with pytest.raises(KeyError, match="no tolerance kind 'gradeint'"):
        tolerance_for("float64", "gradeint")
    assert tolerance_for("tf32", "function").name == "tf32/function"


def test_context_records_known_differences_and_data_source(engines, mnist_dir):
    ctx = _ctx(engines, mnist_dir)
    run_groups(ctx, ["losses"])
    assert "relu autograd, NaN/Inf" in ctx.known_differences
    assert ctx.data_description is None  # the losses group never loads MNIST
    _ = ctx.mnist
    assert "MNIST" in ctx.data_description


@pytest.mark.parametrize("bug,where", [
    ("divide by 256", "train images (row 0; 60000 rows differ)"),
    ("one-hot in float32 for float64", "one-hot labels: float32"),
])
def test_data_group_sees_a_bug_in_the_torch_loaders_options(engines, mnist_dir, monkeypatch,
                                                            bug, where):
    """The loaders' normalised, one-hot output is checked against its definition, per engine."""
    import torch

    from reference_torch import mnist as tm

    if bug == "divide by 256":
        real = tm._images
        # Only the normalised output is scaled, as a wrong divisor would do.
        monkeypatch.setattr(tm, "_images", lambda x, normalize, flatten, dtype:
                            real(x, normalize, flatten, dtype)
                            * (255 / 256 if normalize else 1))
    else:
        real_labels = tm._labels
        monkeypatch.setattr(tm, "_labels", lambda t, one_hot, dtype:
                            real_labels(t, one_hot, torch.float32))
    results = run_groups(_ctx(engines, mnist_dir), ["data"])
    failed = [r for r in results if not r.passed]
    assert [r.name for r in failed] == [
        "load_mnist(normalize, flatten=False, one_hot_label) as defined (torch/float64)"
        if bug != "divide by 256" else
        "load_mnist(normalize, flatten=False, one_hot_label) as defined (torch/float32)",
        *(["load_mnist(normalize, flatten=False, one_hot_label) as defined (torch/float64)"]
          if bug == "divide by 256" else [])]
    assert where in failed[0].where or where in failed[0].message


# The mutants of docs/mutants.md that verify's data group once let through, planted at test time
# by compiling the function's own source with one change (as scripts/mutator.py writes them).
DATA_MUTANTS = {
    "encode_idx: type code lookup dropped": (
        "reference_numpy.idx", "encode_idx",
        'code = codes.get(arr.dtype.newbyteorder("="))', "pass"),
    "encode_idx: names of the IDX types dropped": (
        "reference_numpy.idx", "encode_idx", 'names = ", ".join(str(d) for d in codes)', "pass"),
    "download: checksum never computed": (
        "reference_numpy.mnist_files", "_download_one",
        "actual = hashlib.sha256(raw).hexdigest()", "pass"),
    "download: checksum computed, mismatch accepted": (
        "reference_numpy.mnist_files", "_download_one", "if actual != expected:", "if False:"),
    "torchvision cache: parents not created": (
        "reference_torch.mnist", "_writable_base", "base.mkdir(parents=True, exist_ok=True)",
        "base.mkdir(parents=False, exist_ok=True)"),
}



def _data_rows(part):
    """Judge one of the data group's new checks on its own (not the full-MNIST loads)."""
    from verify.checks import data, data_download, data_idx
    from verify.observe import judge

    observe = {"idx": lambda: data_idx.observe(Context(engines=[])),
               "download": lambda: data_download.observe(Context(engines=[])),
               "cache": data._fresh_cache}[part]
    return judge(observe())


DOWNLOAD_ROW = "download_mnist from a mirror (a loopback server) ({})"
FIRST_RUN_LOADERS = ("reference_numpy load_mnist", "reference_torch load_mnist",
                     "reference_torch torchvision_arrays")


@pytest.mark.parametrize("part,rows", [
    ("idx", ["IDX encode/parse round trip (reference_numpy.idx)"]),
    ("download", [DOWNLOAD_ROW.format(c) for c in ("reference_numpy.mnist_files",
                                                   *FIRST_RUN_LOADERS)]),
    ("cache", ["torchvision layout in a new nested cache folder (torchvision)"]),
])
def test_data_first_run_checks_pass_on_the_references(part, rows):
    results = _data_rows(part)
    assert [r.name for r in results] == rows
    for r in results:
        assert r.passed, r.message
        assert r.details["cases"] > 1


@pytest.mark.parametrize("mutant,part,reason", [
    ("encode_idx: type code lookup dropped", "idx", "raised NameError"),
    ("encode_idx: names of the IDX types dropped", "idx", "encode_idx refuses uint16 (raised "
                                                           "NameError"),
    ("download: checksum never computed", "download", "raised NameError"),
    ("download: checksum computed, mismatch accepted", "download",
     "train-images-idx3-ubyte.gz parses to the served arrays (row 5999; 1 rows differ)"),
    ("torchvision cache: parents not created", "cache", "raised OSError"),
])
def test_data_first_run_checks_see_the_mutants_verify_let_through(monkeypatch, mutant, part,
                                                                  reason):
    plant(monkeypatch, *DATA_MUTANTS[mutant])
    # The download part's first row is download_mnist's own; the loaders' rows follow it.
    result = _data_rows(part)[0]
    assert not result.passed
    assert reason in result.where or reason in result.message


def test_torchvision_leftovers_not_cleaned_are_seen(monkeypatch):
    """The layout's cleanup of a killed run's leftovers dropped (a generated mutant): the old
    leftover stays, and the row says which fact failed."""
    import reference_torch.mnist as t_mnist

    monkeypatch.setattr(t_mnist, "remove_stale_temp_files", lambda *a, **kw: [])
    [result] = _data_rows("cache")
    assert not result.passed and "a leftover older than this process, removed" in result.where


def test_torchvision_layout_outside_the_configured_cache_is_seen(monkeypatch, tmp_path):
    """Where the fallback folder exists, the parents mutant loads fine from the wrong place:
    the layout's location is what fails."""
    import os
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    uid = os.getuid() if hasattr(os, "getuid") else 0
    (tmp_path / f"nnparity-{uid}").mkdir()
    plant(monkeypatch, *DATA_MUTANTS["torchvision cache: parents not created"])
    [result] = _data_rows("cache")
    assert not result.passed
    assert "the layout is in $NNPARITY_CACHE_DIR/torchvision (found: nothing)" in result.where
    assert list((tmp_path / f"nnparity-{uid}" / "torchvision").glob("*/MNIST/raw/*"))


def test_data_checks_environ_restores_after_an_error(monkeypatch):
    import os

    from verify.checks.data_download import environ

    monkeypatch.setenv("NNPARITY_CACHE_DIR", "/before")
    monkeypatch.delenv("no_proxy", raising=False)
    with pytest.raises(RuntimeError), environ(NNPARITY_CACHE_DIR="/during", no_proxy="x"):
        assert os.environ["NNPARITY_CACHE_DIR"] == "/during"
        raise RuntimeError
    assert os.environ["NNPARITY_CACHE_DIR"] == "/before" and "no_proxy" not in os.environ


def _drop_partial_block(self, x, labels):
    """The planted bug: the last, partial EVAL_BLOCK of rows is never counted."""
    from reference_numpy.runrules import EVAL_BLOCK

    full = len(x) - len(x) % EVAL_BLOCK
    return type(self).__mro__[0]._real_count(self, x[:full], labels[:full])


def _last_of_ties(self, x, t):
    """The planted bug: ties at the argmax go to the last index."""
    import torch

    a2 = self.logits(x)
    labels = t if t.ndim == 1 else t.argmax(dim=1)
    last = a2.shape[1] - 1 - torch.argmax(a2.flip(1), dim=1)
    return float((last == labels).double().mean())


@pytest.mark.parametrize("bug", ["partial block dropped", "last of ties"])
def test_accuracy_rows_see_a_bug_in_one_engine(engines, mnist_dir, monkeypatch, bug):
    from reference_torch.networks import TwoLayerNet

    if bug == "partial block dropped":
        monkeypatch.setattr(TwoLayerNet, "_real_count", TwoLayerNet.count_correct_unchecked,
                            raising=False)
        monkeypatch.setattr(TwoLayerNet, "count_correct_unchecked", _drop_partial_block)
        want = "TwoLayerNet count_correct_unchecked (train's evaluation, in blocks)"
    else:
        monkeypatch.setattr(TwoLayerNet, "accuracy", _last_of_ties)
        want = "TwoLayerNet accuracy"
    results = [r for r in run_groups(_ctx(engines, mnist_dir), ["gradients"])
               if r.name.startswith(("TwoLayerNet accuracy", "TwoLayerNet count_correct"))]
    failed = sorted(r.name for r in results if not r.passed)
    torch_engines = sorted(f"{want} ({e.name})" for e in engines if e.framework == "torch")
    assert failed == torch_engines
    if bug == "last of ties":
        assert all("ties at the argmax" in r.where for r in results if not r.passed)


def _loss_through_softmax(net, params, xb, target, mask):
    """The planted bug: log(softmax) instead of log-sum-exp, -inf where softmax underflows."""
    import torch

    from reference_torch.fastpath import forward_fused

    _, _, a2 = forward_fused(net, params, xb, mask)
    return torch.nn.functional.nll_loss(torch.log(torch.softmax(a2, dim=1)), target[0])


from reference_numpy.fastpath import fused_sgd_step as _REAL_NUMPY_FUSED_STEP  # noqa: E402


def _step_without_max_shift(net, params, xb, target, mask, lr):
    """The planted bug: b2's gradient from a softmax without the max shift (exp overflows at a
    logit of ~710); the other parameters take the real step."""
    from reference_numpy import fastpath

    new = _REAL_NUMPY_FUSED_STEP(net, params, xb, target, mask, lr)
    _, _, a2 = fastpath.forward_fused(net, params, xb, mask)
    y = np.exp(a2.T)
    y /= y.sum(axis=0)
    y.ravel()[target] -= 1
    y /= len(xb)
    with np.errstate(invalid="ignore"):
        new["b2"] = params["b2"] - lr * y.sum(axis=1)
    return new


@pytest.mark.parametrize("bug", ["torch loss via log(softmax)", "numpy step without max shift"])
def test_fused_step_at_extreme_logits_sees_a_bug_in_one_engine(engines, mnist_dir, monkeypatch,
                                                              bug):
    """On the book's run both bugs give the same numbers; at logits ~2,000 they fail."""
    if bug.startswith("torch"):
        from reference_torch import fastpath as tf

        monkeypatch.setattr(tf, "fused_loss", _loss_through_softmax)
        want = {f"fused step at extreme logits: loss ({e.name})"
                for e in engines if e.framework == "torch"}
    else:
        from reference_numpy import fastpath as nf

        monkeypatch.setattr(nf, "fused_sgd_step", _step_without_max_shift)
        want = {"fused step at extreme logits: parameters after the step (numpy/float64)",
                *(f"fused step at extreme logits: parameters after the step ({e.name})"
                  for e in engines if e.framework == "numpy")}
    results = [r for r in run_groups(_ctx(engines, mnist_dir, seed=7), ["gradients"])
               if r.name.startswith("fused step at extreme logits")]
    assert results and {r.name for r in results if not r.passed} == want


def test_the_books_delta_loss_network_sees_a_delta_sign_bug_in_torch(engines, mnist_dir,
                                                                    monkeypatch):
    """TwoLayerNet(loss="cross_entropy_error"): log(y - δ) in torch's loss fails its row."""
    from reference_torch import networks as tn

    monkeypatch.setattr(tn, "CEE_DELTA", -1e-7)
    results = run_groups(_ctx(engines, mnist_dir), ["gradients"])
    failed = {r.name for r in results if not r.passed}
    assert {f"TwoLayerNet loss ({e.name})" for e in engines
            if e.framework == "torch" and e.dtype == "float64"} <= failed
    assert all("cross_entropy_error" in r.where for r in results
               if not r.passed and r.name.startswith("TwoLayerNet loss"))


def test_quick_replays_a_subset_of_the_default_steps():
    """--quick replays fewer steps one by one; its steps are among the default's (whose noise
    the replay tolerances were measured on), and calibration keeps the default's."""
    from verify.checks.training import replay_prefix, replay_steps

    quick, default = Context(engines=[], quick=True), Context(engines=[])
    calib = Context(engines=[], quick=True, calibration=True)
    assert replay_prefix(quick) < replay_prefix(default) == replay_prefix(calib)
    for n in (10, 299, 1300, 10_000):
        q = replay_steps(n, full=replay_prefix(quick))
        d = replay_steps(n, full=replay_prefix(default))
        assert set(q) <= set(d) and q == sorted(q) and q[:10] == list(range(min(n, 10)))
        assert replay_steps(n, replay_all=True, full=replay_prefix(quick)) == list(range(n))
    assert len(replay_steps(1300, full=replay_prefix(quick))) == 300 + 100


def test_the_element_loop_rows_see_a_wrong_step_in_torchs_loop(engines, mnist_dir, monkeypatch):
    """TwoLayerNet.numerical_gradient as the book calls it: a loop that differences with the
    wrong step (h twice the one it divides by) fails its row, and only its row."""
    from reference_torch import gradient as tg
    from reference_torch import networks as tn

    real = tg.numerical_gradient
    monkeypatch.setattr(tn, "numerical_gradient", lambda f, x, h=1e-4: real(f, x, h=h) * 2)
    results = run_groups(_ctx(engines, mnist_dir), ["gradients"])
    failed = {r.name for r in results if not r.passed}
    assert failed == {f"TwoLayerNet.numerical_gradient (element loop, default h) ({e.name})"
                      for e in engines if e.framework == "torch" and e.dtype == "float64"}


def test_the_seeds_rows_see_a_wrong_batched_numerical_gradient_in_torch(engines, mnist_dir,
                                                                       monkeypatch):
    """The notes' numerical_gradient(function_2, [3, 4]) through torch's batched version."""
    from reference_torch import gradient as tg

    real = tg.numerical_gradient_fast
    monkeypatch.setattr(tg, "numerical_gradient_fast", lambda f, x, **kw: real(f, x, **kw) * 1.01)
    results = run_groups(_ctx(engines, mnist_dir), ["seeds"])
    assert {r.name for r in results if not r.passed} == {
        f"{row} ({e.name})" for e in engines if e.framework == "torch" and e.dtype == "float64"
        for row in ("seeds' printed numbers", "the notes' formulas, computed here in float64")}


def test_an_engine_that_raises_fails_its_group_and_the_run_goes_on(engines, mnist_dir,
                                                                   monkeypatch, capsys):
    """A candidate whose code raises inside a group is a failed verdict naming the exception
    and where it came from; later groups still run."""
    from reference_torch import optimizers as to

    def broken(self, params, grads):
        raise ZeroDivisionError("planted")

    monkeypatch.setattr(to.Adam, "apply_unchecked", broken)
    results = run_groups(_ctx(engines, mnist_dir), ["optimizers", "seeds"])
    failed = [r for r in results if not r.passed]
    assert [r.name for r in failed] == ["optimizers checks run to the end"]
    assert failed[0].where.startswith("raised ZeroDivisionError at tests/test_verify_checks.py:")
    # optimizers builds its rows as a list, so none was made before the exception
    assert "planted before its first observation" in failed[0].message
    assert any(r.group == "seeds" for r in results)  # the next group ran
    assert "ZeroDivisionError: planted" in capsys.readouterr().err


def test_the_numerical_training_rows_see_a_train_that_ignores_the_gradient_option(
        engines, mnist_dir, monkeypatch):
    """train(gradient="numerical") that trains by backprop instead fails its row (torch's)."""
    from reference_torch import training as tt

    real = tt.train
    monkeypatch.setattr(tt, "train", lambda *a, gradient="backprop", **kw: real(*a, **kw))
    results = run_groups(_ctx(engines, mnist_dir), ["concepts"])
    assert {r.name for r in results if not r.passed} == {
        f"train(gradient='numerical'): the notes' loop ({e.name})" for e in engines
        if e.framework == "torch" and e.dtype == "float64"}

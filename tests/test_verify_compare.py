"""Tests of verify.compare: the tolerance rule, non-finite handling, messages, series."""

from __future__ import annotations

import ast
import math
from pathlib import Path

import numpy as np
import pytest

from verify.compare import (
    Comparison,
    ParityError,
    Tolerance,
    assert_parity,
    bound_ratio,
    compare_arrays,
    compare_scalars_series,
    finite_frobenius,
    relative_frobenius,
    to_numpy,
)

TIGHT = Tolerance("float32-cpu", rtol=2e-5, atol=1e-7, justification="test fixture")
# torch.testing.assert_close's defaults for float32, written out so torch is not needed here.
TORCH_F32_DEFAULT = Tolerance(
    "torch-default-float32", rtol=1.3e-6, atol=1e-5, justification="assert_close defaults"
)


# --------------------------------------------------------------------------- Tolerance


def test_tolerance_requires_justification_and_sane_numbers():
    with pytest.raises(ValueError, match="justification"):
        Tolerance("float64", 1e-12, 1e-14, "")
    with pytest.raises(ValueError, match="justification"):
        Tolerance("float64", 1e-12, 1e-14, "   ")
    with pytest.raises(ValueError, match="rtol"):
        Tolerance("float64", -1.0, 0.0, "x")
    with pytest.raises(ValueError, match="atol"):
        Tolerance("float64", 0.0, math.inf, "x")
    with pytest.raises(TypeError, match="rtol"):
        Tolerance("float64", "1e-5", 0.0, "x")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="name"):
        Tolerance("", 0.0, 0.0, "x")
    tol = Tolerance("float64", 1, 0, "measured")
    assert isinstance(tol.rtol, float) and tol.describe() == "float64: rtol=1, atol=0"


def test_rule_boundary_exactly_at_bound_passes_just_above_fails():
    # Binary-exact numbers: allowed = 0.25 + 0.5 * 2 = 1.25, and 3.25 - 2 == 1.25 exactly.
    tol = Tolerance("exact", rtol=0.5, atol=0.25, justification="boundary test")
    assert compare_arrays("at", 3.25, 2.0, tol).passed
    assert compare_arrays("below", 0.75, 2.0, tol).passed
    above = np.nextafter(3.25, np.inf)
    c = compare_arrays("above", above, 2.0, tol)
    assert not c.passed and c.n_mismatched == 1 and c.worst_index == ()
    # atol alone at e == 0
    tol0 = Tolerance("atol-only", rtol=0.0, atol=0.125, justification="boundary test")
    assert compare_arrays("z", [0.125, -0.125], [0.0, 0.0], tol0).passed
    assert not compare_arrays("z", [np.nextafter(0.125, 1.0)], [0.0], tol0).passed


def test_scaled_bias_gradient_shows_why_torch_defaults_are_not_enough():
    """A bias gradient off by a factor (1 + 1e-4) - a real bug, e.g. a wrong batch size in a
    mean - passes assert_close's float32 defaults because atol=1e-5 dwarfs values ~1e-3."""
    rng = np.random.default_rng(0)
    grad_b = rng.uniform(0.5e-3, 1.5e-3, size=50) * rng.choice([-1, 1], size=50)
    buggy = grad_b * (1 + 1e-4)
    strict = Tolerance("float64-grad", rtol=1e-5, atol=1e-9, justification="test fixture")
    c = compare_arrays("grad b1", buggy, grad_b, strict)
    assert not c.passed
    assert c.n_mismatched == 50
    assert "Mismatch in 'grad b1'" in c.message
    lenient = compare_arrays("grad b1", buggy, grad_b, TORCH_F32_DEFAULT)
    assert lenient.passed, lenient.message
    # Even a 0.5% error passes the defaults at this scale: the absolute term does all the work.
    assert compare_arrays("grad b1", grad_b * 1.005, grad_b, TORCH_F32_DEFAULT).passed


def test_failure_message_layout_and_worst_k_order():
    e = np.full((50, 4), 0.01)
    a = e.copy()
    a[12, 3] += 1.2e-4  # the worst by ratio
    a[7, 1] += 5e-5
    a[30, 0] += 1e-5
    a[2, 2] += 1e-8  # within bound
    c = compare_arrays("grad W1", a, e, TIGHT, k=5)
    assert not c.passed and c.n_mismatched == 3 and c.n_total == 200
    assert c.worst_index == (12, 3)
    assert [w[0] for w in c.worst[:4]] == [(12, 3), (7, 1), (30, 0), (2, 2)]
    ratios = [w[3] / w[4] for w in c.worst]
    assert ratios == sorted(ratios, reverse=True)
    lines = c.message.splitlines()
    assert lines[0] == (
        "Mismatch in 'grad W1' (tolerance class float32-cpu: rtol=2e-05, atol=1e-07):"
    )
    assert lines[1] == "  3 / 200 elements (1.5%) exceed |a-e| <= atol + rtol*|e|"
    assert "greatest absolute difference: 1.20e-04 at index (12, 3) (allowed 3.00e-07)" in lines[2]
    assert "greatest relative difference" in lines[3] and "(12, 3)" in lines[3]
    assert "worst 3 (index: actual vs expected, |diff| / allowed):" in c.message
    assert "    (12, 3): 0.01012 vs 0.01, 1.20e-04 / 3.00e-07" in lines
    # only offenders are listed in the message, but Comparison.worst keeps k entries
    assert "(2, 2):" not in c.message and len(c.worst) == 5


def test_worst_k_ties_are_broken_by_position_and_k_zero():
    e = np.ones(10)
    a = e + 1.0  # every element equally bad
    c = compare_arrays("ties", a, e, TIGHT, k=3)
    assert [w[0] for w in c.worst] == [(0,), (1,), (2,)]
    assert compare_arrays("none", a, e, TIGHT, k=0).worst == []
    with pytest.raises(ValueError, match="k"):
        compare_arrays("bad k", a, e, TIGHT, k=-1)


def test_nan_on_one_side_fails_with_index():
    e = np.zeros((3, 4))
    a = e.copy()
    a[1, 2] = np.nan
    c = compare_arrays("grad W2", a, e, TIGHT)
    assert not c.passed and c.n_mismatched == 1 and c.n_nonfinite_mismatched == 1
    assert c.worst_index == (1, 2) and math.isinf(c.max_abs_err)
    assert "NaN/Inf positions differ, first at index (1, 2)" in c.message
    assert "(1, 2): nan vs 0" in c.message
    # and the other way round
    c2 = compare_arrays("grad W2", e, a, TIGHT)
    assert not c2.passed and "index (1, 2)" in c2.message


def test_matching_nonfinite_positions_pass_and_are_excluded():
    e = np.array([1.0, np.nan, np.inf, -np.inf, 2.0])
    a = np.array([1.0 + 1e-9, np.nan, np.inf, -np.inf, 2.0])
    c = compare_arrays("with nan", a, e, TIGHT)
    assert c.passed, c.message
    assert math.isfinite(c.max_abs_err) and c.max_abs_err == pytest.approx(1e-9)


def test_pos_inf_vs_neg_inf_fails():
    c = compare_arrays("inf", [np.inf, 1.0], [-np.inf, 1.0], TIGHT)
    assert not c.passed and c.worst_index == (0,)
    assert "actual inf vs expected -inf" in c.message
    assert c.worst[0][0] == (0,)  # listed first despite inf/inf


def test_shape_mismatch_fails_with_both_shapes_no_broadcasting():
    c = compare_arrays("grad b2", np.zeros(10), np.zeros((10, 1)), TIGHT)
    assert not c.passed
    assert "(10,)" in c.message and "(10, 1)" in c.message
    assert "broadcast" in c.message
    c0 = compare_arrays("scalar vs 1-elt", 1.0, [1.0], TIGHT)
    assert not c0.passed and "()" in c0.message and "(1,)" in c0.message


def test_scalars_python_floats_and_relative_error_at_zero():
    c = compare_arrays("loss", 2.302585, 2.302585, TIGHT)
    assert c.passed and c.worst_index == () and c.n_total == 1
    z = compare_arrays("z", [0.0, 1e-3], [0.0, 0.0], TIGHT)
    assert not z.passed and math.isinf(z.max_rel_err) and "expected is 0 there" in z.message
    ok = compare_arrays("zz", [0.0], [0.0], TIGHT)
    assert ok.passed and ok.max_rel_err == 0.0
    empty = compare_arrays("empty", np.zeros((0, 3)), np.zeros((0, 3)), TIGHT)
    assert empty.passed and empty.n_total == 0


def test_integer_bool_input_and_duck_typed_tensor():
    class FakeTensor:
        """Quacks like a torch tensor without importing torch."""

        def __init__(self, arr):
            self.arr = np.asarray(arr, dtype=np.float32)

        def detach(self):
            return self

        def cpu(self):
            return self

        def numpy(self):
            return self.arr

    c = compare_arrays("t", FakeTensor([1.0, 2.0]), np.array([1, 2]), TIGHT)
    assert c.passed
    assert to_numpy(FakeTensor([1.5])).dtype == np.float64
    with pytest.raises(TypeError, match="actual"):
        compare_arrays("c", np.array([1j]), np.array([1.0]), TIGHT)
    with pytest.raises(TypeError, match="tol"):
        compare_arrays("x", 1.0, 1.0, (1e-5, 1e-8))  # type: ignore[arg-type]


def test_series_first_divergence():
    e = np.linspace(2.3, 0.2, 100)
    a = e.copy()
    a[41:] += 1e-3
    c = compare_scalars_series("train loss", a, e, TIGHT)
    assert not c.passed and c.first_divergence == 41
    assert "first divergence at step 41" in c.message
    same = compare_scalars_series("train loss", e, e.copy(), TIGHT)
    assert same.passed and same.first_divergence is None
    nan_c = compare_scalars_series("loss", np.r_[e[:10], np.nan], np.r_[e[:10], 0.1], TIGHT)
    assert nan_c.first_divergence == 10


def test_series_length_mismatch_and_ndim():
    e = np.linspace(1, 0, 20)
    c = compare_scalars_series("loss", e[:15], e, TIGHT)
    assert not c.passed and c.first_divergence == 15 and "(15,)" in c.message
    a = e[:15].copy()
    a[3] += 1
    assert compare_scalars_series("loss", a, e, TIGHT).first_divergence == 3
    with pytest.raises(ValueError, match="1-D"):
        compare_scalars_series("loss", np.zeros((2, 2)), np.zeros((2, 2)), TIGHT)


def test_relative_frobenius():
    e = np.array([[3.0, 0.0], [0.0, 4.0]])
    assert relative_frobenius(e, e) == 0.0
    assert relative_frobenius(e * 1.1, e) == pytest.approx(0.1)
    assert relative_frobenius(np.zeros(3), np.zeros(3)) == 0.0
    assert relative_frobenius(np.ones(3), np.zeros(3)) == math.inf
    with pytest.raises(ValueError, match="shape"):
        relative_frobenius(np.zeros(3), np.zeros(4))


def test_assert_parity_raises_parity_error_with_message():
    assert isinstance(assert_parity([1.0], [1.0], TIGHT), Comparison)
    with pytest.raises(ParityError) as info:
        assert_parity([1.0, 2.0], [1.0, 2.1], TIGHT, name="weights")
    assert isinstance(info.value, AssertionError)
    assert "Mismatch in 'weights'" in str(info.value)
    assert info.value.comparison.worst_index == (1,)


def test_to_dict_is_plain_python():
    c = compare_arrays("x", np.array([[1.0, np.nan]]), np.array([[1.0, 2.0]]), TIGHT)
    d = c.to_dict()
    assert d["worst_index"] == [0, 1] and d["tolerance"]["name"] == "float32-cpu"
    assert isinstance(d["worst"][0]["index"], list)


def test_reporting_modules_do_not_import_torch_at_module_level():
    root = Path(__file__).resolve().parents[1] / "verify"
    files = [root / "compare.py", root / "plots.py", *sorted((root / "report").rglob("*.py"))]
    assert len(files) > 3
    for path in files:
        name = path.name
        tree = ast.parse(path.read_text())
        for node in tree.body:
            mods = []
            if isinstance(node, ast.Import):
                mods = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                mods = [node.module or ""]
            assert not any(m.split(".")[0] == "torch" for m in mods), (name, mods)


def test_chunked_scan_matches_single_pass(monkeypatch):
    """Chunk boundaries must not change any result: counts, firsts, maxima, worst-k, ties."""
    import verify.compare as vc

    rng = np.random.default_rng(1)
    e = rng.normal(size=(7, 11))
    a = e + rng.normal(scale=1e-5, size=e.shape)
    a[0, 5] = a[6, 5] = np.nan
    e[6, 5] = np.nan  # matching NaN: excluded
    a[3, 3] = np.inf
    e[2, :], a[2, :] = 0.5, 1.5  # a row of exact ties in abs_err / allowed
    e[4, 4] = 0.0
    a[4, 4] = 1e-3
    single = compare_arrays("x", a, e, TIGHT, k=7)
    assert [w[0] for w in single.worst[2:7]] == [(2, i) for i in range(5)]
    for chunk in (1, 3, 5, 16):
        monkeypatch.setattr(vc, "_CHUNK", chunk)
        chunked = compare_arrays("x", a, e, TIGHT, k=7)
        assert repr(chunked) == repr(single), chunk  # repr: NaN != NaN under ==
    assert (
        single.n_mismatched
        == int(np.count_nonzero(~(np.abs(a - e) <= TIGHT.atol + TIGHT.rtol * np.abs(e)))) - 1
    )  # the matching NaN pair is not a mismatch
    series = np.r_[np.zeros(10), 1.0, np.zeros(5)]
    monkeypatch.setattr(vc, "_CHUNK", 4)
    assert compare_scalars_series("s", series, np.zeros(16), TIGHT).first_divergence == 10


# --------------------------------------------------------------------------- the one rule


SCALED = Tolerance("float64/gradient", rtol=1e-13, atol=1e-20, justification="test fixture",
                   atol_scale=1e-14, frob=1e-14)


def test_atol_scale_is_folded_into_the_reported_atol():
    tol = Tolerance("g", rtol=1e-13, atol=1e-20, justification="test fixture", atol_scale=1e-14)
    e = np.array([[4.0, -0.5], [0.0, 1e-3]])
    c = compare_arrays("g", e + 3e-14, e, tol)
    # allowed at 0.0: atol_scale * max|e| + atol = 4e-14 + 1e-20, so 3e-14 passes there
    assert c.passed and c.tolerance.atol == 1e-14 * 4.0 + 1e-20 and c.tolerance.atol_scale == 0
    assert not compare_arrays("g", e + 5e-14, e, tol).passed


def test_frobenius_bound_fails_a_small_systematic_error_every_element_lets_through():
    e = np.random.default_rng(3).standard_normal(200)
    scaled = e * (1 + 5e-14)  # each element within rtol = 1e-13; ||a-e||/||e|| = 5e-14 > 1e-14
    c = compare_arrays("grad b1", scaled, e, SCALED)
    assert not c.passed and c.n_mismatched == 0
    assert c.frob == pytest.approx(5e-14, rel=1e-2)
    assert c.message.startswith("Mismatch in 'grad b1' (float64/gradient): relative Frobenius")
    assert "elementwise every value is within its bound" in c.message
    # without the bound, the same comparison passes: the frob field says it was not measured
    loose = Tolerance("x", rtol=1e-13, atol=0.0, justification="test fixture", atol_scale=1e-14)
    assert compare_arrays("grad b1", scaled, e, loose).passed
    assert compare_arrays("grad b1", scaled, e, loose).frob is None
    # both parts over: the Frobenius line first, then the elementwise report
    both = compare_arrays("grad b1", e * (1 + 1e-12), e, SCALED)
    assert not both.passed and both.message.splitlines()[1].startswith("Mismatch in 'grad b1'")


def test_frobenius_ignores_matching_nonfinite_and_handles_zero():
    a, e = np.array([1.0, np.nan, 2.0]), np.array([1.0, np.nan, 2.0 + 1e-9])
    assert finite_frobenius(a, e) == pytest.approx(1e-9 / np.sqrt(5.0), rel=1e-6)
    assert finite_frobenius([0.0, 0.0], [0.0, 0.0]) == 0.0
    assert finite_frobenius([1e-30], [0.0]) == math.inf
    assert finite_frobenius([np.nan], [1.0]) == 0.0  # placement is the elementwise rule's job
    assert not compare_arrays("x", [np.nan], [1.0], SCALED).passed


@pytest.mark.parametrize("shape", [(30, 7), (5,), (1,)])
def test_bound_ratio_agrees_with_the_verdict(shape):
    rng = np.random.default_rng(7)
    for j in range(60):
        e = rng.standard_normal(shape)
        a = e * (1 + 10.0 ** rng.uniform(-16, -11) * rng.standard_normal(shape))
        if j % 7 == 0:
            a = e * (1 + 4e-14)  # systematic: the Frobenius part decides
        r = bound_ratio(a, e, SCALED)
        assert (r <= 1) == compare_arrays("x", a, e, SCALED).passed, (j, r)
    bad = np.ones(shape)
    bad.flat[0] = np.nan
    assert bound_ratio(bad, np.ones(shape), SCALED) == math.inf
    assert bound_ratio(np.ones(shape), np.ones(shape), SCALED) == 0.0
    assert bound_ratio(np.ones((2, 3)), np.ones((3, 2)), SCALED) == math.inf


def test_tolerance_frob_and_atol_scale_are_validated():
    with pytest.raises(ValueError, match="frob"):
        Tolerance("x", 0.0, 0.0, "j", frob=-1.0)
    with pytest.raises(ValueError, match="frob"):
        Tolerance("x", 0.0, 0.0, "j", frob=math.nan)
    with pytest.raises(ValueError, match="atol_scale"):
        Tolerance("x", 0.0, 0.0, "j", atol_scale=math.inf)
    assert Tolerance("x", 0.0, 0.0, "j").frob == math.inf  # no bound unless one is measured


def test_to_numpy_copy_never_shares_memory():
    x = np.arange(4.0)
    assert np.shares_memory(to_numpy(x), x)
    y = to_numpy(x, copy=True)
    assert not np.shares_memory(y, x) and y.dtype == np.float64


@pytest.mark.parametrize("seed", range(20))
def test_top_1_is_the_earliest_maximum_as_for_any_k(seed):
    """bound_ratio's k = 1 shortcut (argmax) picks what the partition picks for k >= 1: the
    largest ratio, the earliest of equal ones; nothing when every entry is excluded (-1)."""
    from verify.compare import _top_k

    rng = np.random.default_rng(seed)
    ratio = rng.choice([-1.0, 0.0, 0.5, 0.5, 2.0, math.inf], size=int(rng.integers(1, 40)))
    got = _top_k(ratio, 1, 7)
    two = sorted(_top_k(ratio, 2, 7), key=lambda rf: (-rf[0], rf[1]))
    if (ratio < 0).all():
        assert got == [] and two == []
    else:
        i = int(np.flatnonzero(ratio == ratio.max())[0])
        assert got == [(float(ratio[i]), 7 + i)] == two[:1]

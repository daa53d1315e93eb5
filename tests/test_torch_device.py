"""reference_torch.device: device/dtype choice, the precision guard, environment info.

The precision switches are process-wide, so every test that touches them restores them (the
``restore_precision`` fixture), and other test files see the defaults.  CUDA-only tests are
marked ``cuda`` and skip with the reason where no GPU is visible.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

import reference_numpy as rn
import reference_torch as rt
from reference_torch.device import DEVICE_ENV, PrecisionSettings

HAS_CUDA = torch.cuda.is_available()
needs_cuda = pytest.mark.skipif(not HAS_CUDA, reason="needs a CUDA device; none is visible")


@pytest.fixture
def restore_precision():
    before = PrecisionSettings.current()
    cublas = os.environ.get("CUBLAS_WORKSPACE_CONFIG")
    yield before
    before.apply()
    if cublas is None:
        os.environ.pop("CUBLAS_WORKSPACE_CONFIG", None)
    else:
        os.environ["CUBLAS_WORKSPACE_CONFIG"] = cublas
    assert PrecisionSettings.current() == before


# --------------------------------------------------------------------------- resolve_device
def test_resolve_device_argument_env_default(monkeypatch):
    monkeypatch.delenv(DEVICE_ENV, raising=False)
    assert rt.resolve_device() == (torch.device("cuda", 0) if HAS_CUDA else torch.device("cpu"))
    monkeypatch.setenv(DEVICE_ENV, "cpu")
    assert rt.resolve_device() == torch.device("cpu")
    assert rt.resolve_device("meta") == torch.device("meta")  # the argument wins over the env
    assert rt.resolve_device(torch.device("cpu")) == torch.device("cpu")
    monkeypatch.setenv(DEVICE_ENV, "  ")  # blank means unset
    assert rt.resolve_device().type == ("cuda" if HAS_CUDA else "cpu")


def test_resolve_device_env_reaches_the_network(monkeypatch):
    monkeypatch.setenv(DEVICE_ENV, "cpu")
    assert rt.TwoLayerNet(4, 3, 2, seed=0).device == torch.device("cpu")


@pytest.mark.parametrize(
    "value,exc,msg",
    [
        ("gpu", ValueError, "device: expected a device such as 'cpu'"),
        (3.5, TypeError, "device: expected a str or torch.device, got float"),
    ],
)
def test_resolve_device_bad(value, exc, msg):
    with pytest.raises(exc, match=msg):
        rt.resolve_device(value)


def test_resolve_device_bad_env_names_the_variable(monkeypatch):
    monkeypatch.setenv(DEVICE_ENV, "tpu9")
    with pytest.raises(ValueError, match=r"\$NNPARITY_DEVICE: expected a device"):
        rt.resolve_device()


@pytest.mark.skipif(HAS_CUDA, reason="checks the error on machines without CUDA")
def test_resolve_device_cuda_unavailable(monkeypatch):
    monkeypatch.setenv(DEVICE_ENV, "cuda")
    with pytest.raises(ValueError, match=r"torch.cuda.is_available\(\) is False"):
        rt.resolve_device()


# --------------------------------------------------------------------------- resolve_dtype
@pytest.mark.parametrize(
    "value,expected",
    [
        (None, torch.float32),
        ("float32", torch.float32),
        ("float64", torch.float64),
        ("torch.float64", torch.float64),
        (torch.float64, torch.float64),
        (np.float32, torch.float32),
        (np.dtype("float64"), torch.float64),
    ],
)
def test_resolve_dtype(value, expected):
    assert rt.resolve_dtype(value) is expected


@pytest.mark.parametrize("value", ["float16", torch.bfloat16, np.int64, "f8x", object()])
def test_resolve_dtype_refuses(value):
    with pytest.raises(TypeError, match="dtype: expected float32 or float64"):
        rt.resolve_dtype(value)


def test_network_dtype_default_is_numpys():
    # resolve_dtype's own default is float32; the networks mirror reference_numpy (float64).
    assert rt.TwoLayerNet(4, 3, 2, seed=0, device="cpu").dtype == torch.float64
    assert rt.SimpleNet(seed=0, device="cpu").W.dtype == torch.float64


# --------------------------------------------------------------------------- precision
def _set_tf32_on() -> None:
    torch.backends.cuda.matmul.allow_tf32 = True  # settable on CPU-only builds too
    torch.backends.cudnn.allow_tf32 = True


def test_precision_guard_sets_and_restores(restore_precision):
    _set_tf32_on()
    torch.backends.cudnn.benchmark = True
    outside = PrecisionSettings.current()
    assert outside.tf32_enabled and outside.float32_matmul_precision == "high"
    with rt.precision_guard() as inside:
        assert inside == PrecisionSettings.current()
        assert inside == PrecisionSettings(
            allow_tf32_matmul=False,
            allow_tf32_cudnn=False,
            float32_matmul_precision="highest",
            deterministic_algorithms=True,
            cudnn_benchmark=False,
        )
        assert torch.are_deterministic_algorithms_enabled()
        assert os.environ.get("CUBLAS_WORKSPACE_CONFIG")
        rt.assert_reference_precision()  # passes inside
    assert PrecisionSettings.current() == outside


def test_precision_guard_restores_after_an_exception(restore_precision):
    before = PrecisionSettings.current()
    env_before = os.environ.get("CUBLAS_WORKSPACE_CONFIG")
    with pytest.raises(ZeroDivisionError), rt.precision_guard():
        1 / 0  # noqa: B018
    assert PrecisionSettings.current() == before
    assert os.environ.get("CUBLAS_WORKSPACE_CONFIG") == env_before


def test_precision_guard_allow_tf32_declares_it(restore_precision):
    with rt.precision_guard(allow_tf32=True) as inside:
        assert inside.allow_tf32_matmul and inside.tf32_enabled
        assert inside.deterministic_algorithms
        rt.assert_reference_precision(allow_tf32=True)
        with pytest.raises(rt.PrecisionError):
            rt.assert_reference_precision()


def test_assert_reference_precision_raises_when_tf32_on(restore_precision):
    with rt.precision_guard():
        torch.backends.cuda.matmul.allow_tf32 = True
        with pytest.raises(rt.PrecisionError, match="torch.backends.cuda.matmul.allow_tf32"):
            rt.assert_reference_precision()
        assert isinstance(rt.PrecisionError("x"), RuntimeError)
        rt.assert_reference_precision(allow_tf32=True)  # declared: accepted
        rt.assert_reference_precision(device="cpu")  # TF32 cannot touch a CPU run
    with rt.precision_guard():
        torch.backends.cudnn.allow_tf32 = True
        with pytest.raises(rt.PrecisionError, match="cudnn.allow_tf32"):
            rt.assert_reference_precision()
    with rt.precision_guard():
        torch.set_float32_matmul_precision("medium")
        with pytest.raises(rt.PrecisionError, match="'medium'"):
            rt.assert_reference_precision()


def test_precision_settings_survive_mixed_api_state(restore_precision):
    # torch >= 2.9 refuses to read the legacy switches after a mix of legacy and fp32_precision
    # writes; current() falls back to the new API instead of raising.
    if not hasattr(torch.backends.cuda.matmul, "fp32_precision"):
        pytest.skip("torch < 2.9 has no fp32_precision API")
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cuda.matmul.fp32_precision = "ieee"
    try:
        s = PrecisionSettings.current()
        assert s.allow_tf32_matmul is False
    finally:
        torch.backends.cuda.matmul.fp32_precision = "none"


def test_legacy_switches_readable_after_the_tests():
    # Whatever the tests above did, torch can still answer the legacy questions (no mixed state).
    torch.get_float32_matmul_precision()
    assert isinstance(torch.backends.cuda.matmul.allow_tf32, bool)
    assert isinstance(torch.backends.cudnn.allow_tf32, bool)


def test_environment_info():
    info = rt.environment_info("cpu", "float64")
    assert info["device"] == "cpu" and info["dtype"] == "torch.float64"
    assert info["torch"] == torch.__version__ and info["numpy"] == np.__version__
    assert info["num_threads"] == torch.get_num_threads() >= 1
    assert set(info["precision"]) >= {
        "allow_tf32_matmul",
        "allow_tf32_cudnn",
        "float32_matmul_precision",
        "deterministic_algorithms",
        "cudnn_benchmark",
    }


# --------------------------------------------------------------------------- CUDA only
@pytest.mark.cuda
@needs_cuda
def test_environment_info_names_the_gpu():
    info = rt.environment_info("cuda", "float32")
    assert info["device"] == "cuda:0" and info["device_name"] == torch.cuda.get_device_name(0)


@pytest.mark.cuda
@needs_cuda
def test_cuda_twolayernet_matches_numpy_in_float64(restore_precision):
    rng = np.random.default_rng(0)
    x = rng.random((100, 784))
    x[x < 0.8] = 0.0
    t = rng.integers(0, 10, 100)
    ref = rn.TwoLayerNet(784, 50, 10, seed=0)
    with rt.precision_guard():
        net = rt.TwoLayerNet.from_numpy(ref, device="cuda")
        xt, tt = torch.from_numpy(x).cuda(), torch.from_numpy(t).cuda()
        assert abs(float(net.loss(xt, tt)) - ref.loss(x, t)) < 1e-13
        g, gref = net.gradient(xt, tt), ref.gradient(x, t)
        assert max(float(np.max(np.abs(g[k].cpu().numpy() - gref[k]))) for k in g) < 1e-14
        num = net.numerical_gradient_fast(xt, tt)
        fast = ref.numerical_gradient_fast(x, t)
        assert max(float(np.max(np.abs(num[k].cpu().numpy() - fast[k]))) for k in fast) < 1e-9
        with pytest.raises(TypeError, match="expected a tensor on device cuda:0"):
            net.loss(xt.cpu(), tt)


@pytest.mark.cuda
@needs_cuda
def test_cuda_float32_matmul_differs_with_tf32(restore_precision):
    a = torch.randn(512, 512, device="cuda", generator=torch.Generator("cuda").manual_seed(0))
    exact = (a.double() @ a.double()).float()
    with rt.precision_guard():
        ieee = a @ a
    with rt.precision_guard(allow_tf32=True):
        tf32 = a @ a
    err_ieee = float((ieee - exact).abs().max() / exact.abs().max())
    err_tf32 = float((tf32 - exact).abs().max() / exact.abs().max())
    assert err_ieee < 1e-5
    if torch.cuda.get_device_capability()[0] >= 8:  # TF32 exists from Ampere on
        assert err_tf32 > 10 * err_ieee

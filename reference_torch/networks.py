"""SimpleNet and TwoLayerNet (§4.4.1 and §4.5) on tensors, with four ways to get their gradients.

* ``numerical_gradient``: the book's element-by-element central difference (slow, the reference);
* ``numerical_gradient_fast``: the same central differences, many perturbations per batched
  forward (see ``TwoLayerNet.numerical_gradient_fast``);
* ``gradient``: backpropagation written by hand (the formulas of ``reference_numpy``);
* ``autograd_gradient``: torch autograd through the same forward, an independent check.

The unchecked core, with reference_numpy's contract (see its module docstring):
``TwoLayerNet.gradient_unchecked``, ``loss_unchecked`` (a 0-d tensor) and
``count_correct_unchecked`` (a 0-d int64 tensor) do no host sync, so the training loop can
capture them in a CUDA graph.

Weights come from ``reference_numpy.networks.init_params``, so one seed gives identical weights
in both engines.  Methods take tensors on the network's device and of its dtype; anything else
is an error that says how to convert (no silent copies).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping

import numpy as np
import torch

from reference_numpy.gradient import PrecisionWarning
from reference_numpy.networks import ACTIVATIONS, LOSSES, PARAM_NAMES, init_params
from reference_numpy.networks import TwoLayerNet as NumpyTwoLayerNet

from ._validate import (
    as_float_tensor,
    check_choice,
    check_finite,
    check_positive,
    check_targets,
    check_tensor,
)
from .device import resolve_device, resolve_dtype
from .functions import (
    CEE_DELTA,
    cross_entropy_error,
    log_softmax,
    relu,
    sigmoid,
    softmax,
)
from .gradient import numerical_gradient, numerical_gradient_fast

__all__ = ["SimpleNet", "TwoLayerNet", "init_params", "PARAM_NAMES", "ACTIVATIONS", "LOSSES"]

Tensor = torch.Tensor


def _dtype(dtype: object) -> torch.dtype:
    """float64 unless asked otherwise: the networks' default is NumPy's (reference work)."""
    return resolve_dtype(dtype, default=torch.float64)


class SimpleNet:
    """The chapter's 2×3 net with no bias: L = CEE(softmax(x W), t)."""

    def __init__(
        self,
        W: Tensor | np.ndarray | None = None,
        seed: int | None = None,
        *,
        device: str | torch.device | None = None,
        dtype: object = None,
    ) -> None:
        if W is None:
            W = np.random.default_rng(seed).standard_normal((2, 3))
        self.device = resolve_device(device)
        self.dtype = _dtype(dtype)
        W = as_float_tensor(W, "W").detach().to(self.device, self.dtype, copy=True)
        if tuple(W.shape) != (2, 3):
            raise ValueError(f"W: expected shape (2, 3), got {tuple(W.shape)}")
        check_finite(W, "W")
        self.W = W

    def _x(self, x: Tensor) -> Tensor:
        check_tensor(x, "x", device=self.device, dtype=self.dtype)
        if x.ndim not in (1, 2) or x.shape[-1] != 2:
            raise ValueError(f"x: expected shape (2,) or (N, 2), got {tuple(x.shape)}")
        return x

    def predict(self, x: Tensor) -> Tensor:
        """z = x W."""
        return torch.matmul(self._x(x), self.W)

    def loss(self, x: Tensor, t: Tensor) -> float:
        """L = cross_entropy_error(softmax(x W), t) with the book's δ."""
        t = check_tensor(t, "t", device=self.device, dtype=None)
        return float(cross_entropy_error(softmax(self.predict(x)), t))

    def numerical_gradient(self, x: Tensor, t: Tensor) -> Tensor:
        """∂L/∂W by central differences, as the chapter computes it."""
        return numerical_gradient(lambda _: self.loss(x, t), self.W)

    def numerical_gradient_fast(self, x: Tensor, t: Tensor) -> Tensor:
        """The same central differences on perturbed copies of W, W itself never moved (for a
        2x3 net no faster than the loop: it gives every network both forms)."""
        x, t = self._x(x), check_tensor(t, "t", device=self.device, dtype=None)
        loss = lambda w: float(cross_entropy_error(softmax(torch.matmul(x, w)), t))  # noqa: E731
        return numerical_gradient_fast(
            lambda ws: torch.tensor([loss(w) for w in ws], dtype=self.dtype, device=self.device),
            self.W,
        )

    def gradient(self, x: Tensor, t: Tensor) -> Tensor:
        """∂L/∂W = xᵀ (y - t) / N by backprop (ignores δ, so differs from numerical by ~1e-7)."""
        x = self._x(x)
        x2 = x.reshape(1, -1) if x.ndim == 1 else x
        y = softmax(x2 @ self.W)
        t_arr, is_labels = check_targets(
            tuple(y.shape) if x.ndim > 1 else (3,), t, device=self.device, dtype=self.dtype
        )
        if is_labels:
            dy = y - _one_hot(t_arr, y.shape[1], y.dtype)
        else:
            dy = y - t_arr.reshape(y.shape)
        return x2.T @ dy / y.shape[0]


class TwoLayerNet(torch.nn.Module):
    """input → Affine(W1, b1) → sigmoid or ReLU → [dropout] → Affine(W2, b2) → softmax.

    ``W1, b1, W2, b2`` are ``nn.Parameter``s (``requires_grad=False``: the reference computes
    gradients by hand, and ``autograd_gradient`` works on detached copies); ``params`` is the
    dict of them that the optimizers update in place.  Initial weights come from ``seed`` (book
    initialisation, ``reference_numpy.networks.init_params``, so both engines start identical)
    or from given arrays/tensors (copied to ``device`` and ``dtype``).  ``dtype`` float64
    (default, reference work, as in reference_numpy) or float32; ``device`` as
    ``device.resolve_device``.

    Options beyond the chapter, as used by the later regimes: ``weight_decay_lambda`` adds
    ½ λ Σ‖W‖² to the loss (weights only) and λW to dW; ``dropout_ratio`` multiplies hidden units
    by a 0/1 mask during training and by (1 - ratio) at test time (the book's non-inverted
    dropout).  The mask is passed in, so a plan decides it and another engine can replay it.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        output_size: int,
        weight_init_std: float = 0.01,
        *,
        seed: int | None = None,
        params: Mapping[str, Tensor | np.ndarray] | None = None,
        activation: str = "sigmoid",
        loss: str = "softmax_cross_entropy",
        weight_decay_lambda: float = 0.0,
        dropout_ratio: float = 0.0,
        device: str | torch.device | None = None,
        dtype: object = None,
    ) -> None:
        super().__init__()
        self.activation = check_choice(activation, "activation", ACTIVATIONS)
        self.loss_name = check_choice(loss, "loss", LOSSES)
        self.weight_decay_lambda = check_positive(
            weight_decay_lambda, "weight_decay_lambda", allow_zero=True
        )
        self.dropout_ratio = check_positive(dropout_ratio, "dropout_ratio", allow_zero=True)
        if self.dropout_ratio >= 1:
            raise ValueError(f"dropout_ratio: expected a value in [0, 1), got {dropout_ratio!r}")
        device, dtype = resolve_device(device), _dtype(dtype)
        shapes = {
            "W1": (input_size, hidden_size),
            "b1": (hidden_size,),
            "W2": (hidden_size, output_size),
            "b2": (output_size,),
        }
        if params is None:
            params = init_params(input_size, hidden_size, output_size, weight_init_std, seed)
        for k, v in _checked_params(params, shapes, device, dtype).items():
            self.register_parameter(k, torch.nn.Parameter(v, requires_grad=False))

    # ------------------------------------------------------------------ engines

    @classmethod
    def from_numpy(
        cls,
        np_net_or_params: NumpyTwoLayerNet | Mapping[str, np.ndarray],
        device: str | torch.device | None = None,
        dtype: object = None,
    ) -> TwoLayerNet:
        """The twin of a ``reference_numpy.TwoLayerNet`` (weights, activation, loss, weight
        decay, dropout ratio; dtype its dtype unless given) or a net built on a params dict
        (dtype W1's when floating, else float64).  Copies: the two never share memory."""
        if isinstance(np_net_or_params, NumpyTwoLayerNet):
            src = np_net_or_params
            return cls(
                *src.sizes,
                params=src.params,
                activation=src.activation,
                loss=src.loss_name,
                weight_decay_lambda=src.weight_decay_lambda,
                dropout_ratio=src.dropout_ratio,
                device=device,
                dtype=src.dtype if dtype is None else dtype,
            )
        if not isinstance(np_net_or_params, Mapping):
            raise TypeError(
                "np_net_or_params: expected a reference_numpy.TwoLayerNet or a params dict, "
                f"got {type(np_net_or_params).__name__}"
            )
        params = np_net_or_params
        missing = [k for k in PARAM_NAMES if k not in params]
        if missing:
            raise ValueError(f"params: expected keys {list(PARAM_NAMES)}, missing {missing}")
        w1, w2 = (
            v if isinstance(v, torch.Tensor) else np.asarray(v)
            for v in (params["W1"], params["W2"])
        )
        if w1.ndim != 2 or w2.ndim != 2:
            raise ValueError(
                f"params: expected 2-D W1 and W2, got shapes {tuple(w1.shape)} and "
                f"{tuple(w2.shape)}"
            )
        if dtype is None:
            single = w1.dtype == (torch.float32 if isinstance(w1, torch.Tensor) else np.float32)
            dtype = torch.float32 if single else torch.float64
        return cls(w1.shape[0], w1.shape[1], w2.shape[1], params=params, device=device, dtype=dtype)

    def numpy_params(self) -> dict[str, np.ndarray]:
        """float64 NumPy copies of W1, b1, W2, b2 (lossless for a float64 network)."""
        return {
            k: getattr(self, k).detach().cpu().numpy().astype(np.float64, copy=True)
            for k in PARAM_NAMES
        }

    # ------------------------------------------------------------------ forward

    @property
    def params(self) -> dict[str, Tensor]:
        """{"W1": W1, "b1": b1, "W2": W2, "b2": b2}: the Parameters themselves (update in place)."""
        return {k: getattr(self, k) for k in PARAM_NAMES}

    @property
    def device(self) -> torch.device:
        """The parameters' device (follows ``.to()``)."""
        return self.W1.device

    @property
    def dtype(self) -> torch.dtype:
        """The parameters' dtype (follows ``.to()``/``.double()``)."""
        return self.W1.dtype

    @property
    def sizes(self) -> tuple[int, int, int]:
        """(input_size, hidden_size, output_size)."""
        i, h = self.W1.shape
        return i, h, self.W2.shape[1]

    def _act(self, a: Tensor) -> Tensor:
        return sigmoid(a) if self.activation == "sigmoid" else relu(a)

    def _x(self, x: Tensor) -> Tensor:
        check_tensor(x, "x", device=self.device, dtype=self.dtype)
        if x.ndim != 2 or x.shape[1] != self.sizes[0]:
            raise ValueError(f"x: expected shape (N, {self.sizes[0]}), got {tuple(x.shape)}")
        return x

    def _hidden(
        self,
        x: Tensor,
        dropout_mask: Tensor | None,
        p: Mapping[str, Tensor] | None = None,
    ) -> tuple[Tensor, ...]:
        p = self.params if p is None else p
        a1 = x @ p["W1"] + p["b1"]
        z1 = self._act(a1)
        if dropout_mask is not None:
            h = z1 * dropout_mask
        elif self.dropout_ratio:
            h = z1 * (1 - self.dropout_ratio)
        else:
            h = z1
        return a1, z1, h

    def _mask(self, mask: Tensor, shape: tuple[int, ...]) -> Tensor:
        m = check_tensor(mask, "dropout_mask", device=self.device, dtype=None)
        if tuple(m.shape) != tuple(shape):
            raise ValueError(f"dropout_mask: expected shape {tuple(shape)}, got {tuple(m.shape)}")
        if m.dtype == torch.bool:
            return m.to(self.dtype)
        return check_tensor(m, "dropout_mask", device=self.device, dtype=self.dtype)

    def logits(self, x: Tensor, dropout_mask: Tensor | None = None) -> Tensor:
        """a2 = act(x W1 + b1) W2 + b2 (scores before softmax)."""
        x = self._x(x)
        mask = None if dropout_mask is None else self._mask(dropout_mask, (len(x), self.sizes[1]))
        _, _, h = self._hidden(x, mask)
        return h @ self.W2 + self.b2

    def forward(self, x: Tensor, dropout_mask: Tensor | None = None) -> Tensor:
        """nn.Module's call: the logits."""
        return self.logits(x, dropout_mask)

    def predict(self, x: Tensor, dropout_mask: Tensor | None = None) -> Tensor:
        """y = softmax(logits(x)): class probabilities, shape (N, output_size)."""
        return softmax(self.logits(x, dropout_mask))

    def _weight_decay(self, p: Mapping[str, Tensor] | None = None) -> Tensor | float:
        lam = self.weight_decay_lambda
        if not lam:
            return 0.0
        p = self.params if p is None else p
        return 0.5 * lam * (torch.sum(p["W1"] ** 2) + torch.sum(p["W2"] ** 2))

    def _checked(
        self, x: Tensor, t: Tensor, dropout_mask: Tensor | None
    ) -> tuple[Tensor, Tensor, bool, Tensor | None]:
        x = self._x(x)
        t_arr, is_labels = check_targets(
            (x.shape[0], self.sizes[2]), t, device=self.device, dtype=self.dtype
        )
        mask = (
            None if dropout_mask is None else self._mask(dropout_mask, (x.shape[0], self.sizes[1]))
        )
        return x, t_arr, is_labels, mask

    def loss(self, x: Tensor, t: Tensor, dropout_mask: Tensor | None = None) -> Tensor:
        """L = mean cross-entropy of softmax(logits) against t, + ½ λ Σ‖W‖² if weight decay.

        A 0-d tensor (``float(net.loss(x, t))`` for a number)."""
        x, t_arr, is_labels, mask = self._checked(x, t, dropout_mask)
        return self.loss_unchecked(x, t_arr, is_labels, mask)

    def accuracy(self, x: Tensor, t: Tensor) -> float:
        """Fraction of rows whose argmax matches t (labels, or one-hot whose argmax is taken).

        The argmax is of the logits: softmax is monotonic, and rounding in softmax can create
        ties that the logits do not have.
        """
        a2 = self.logits(x)
        t_arr, is_labels = check_targets(tuple(a2.shape), t, device=self.device, dtype=self.dtype)
        labels = t_arr if is_labels else torch.argmax(t_arr, dim=1)
        return float(torch.mean((torch.argmax(a2, dim=1) == labels).to(torch.float64)))

    # ------------------------------------------------------------------ gradients

    def gradient(
        self, x: Tensor, t: Tensor, dropout_mask: Tensor | None = None
    ) -> dict[str, Tensor]:
        """Backprop: with dy = (softmax(a2) - t)/N,
        dW2 = hᵀ dy, db2 = Σ dy, da1 = (dy W2ᵀ ⊙ mask) ⊙ act'(a1), dW1 = xᵀ da1, db1 = Σ da1.
        """
        x, t_arr, is_labels, mask = self._checked(x, t, dropout_mask)
        return self.gradient_unchecked(x, t_arr, is_labels, mask)

    @torch.no_grad()
    def gradient_unchecked(
        self, x: Tensor, t: Tensor, is_labels: bool, mask: Tensor | None
    ) -> dict[str, Tensor]:
        """``gradient`` on checked inputs (the unchecked core: see the module docstring)."""
        p = self.params
        a1, z1, h = self._hidden(x, mask)
        a2 = h @ p["W2"] + p["b2"]
        dy = softmax(a2)
        n = x.shape[0]
        if is_labels:
            dy = dy - _one_hot(t, dy.shape[1], dy.dtype)  # dy[n, t_n] -= 1, elementwise
        else:
            dy = dy * torch.sum(t, dim=1, keepdim=True) - t
        dy /= n
        dh = dy @ p["W2"].T
        if mask is not None:
            dh *= mask
        da1 = dh * (z1 * (1 - z1) if self.activation == "sigmoid" else (a1 > 0))
        grads = {"W1": x.T @ da1, "b1": da1.sum(dim=0), "W2": h.T @ dy, "b2": dy.sum(dim=0)}
        lam = self.weight_decay_lambda
        if lam:
            grads["W1"] = grads["W1"] + lam * p["W1"]
            grads["W2"] = grads["W2"] + lam * p["W2"]
        return grads

    def loss_unchecked(
        self,
        x: Tensor,
        t: Tensor,
        is_labels: bool,
        mask: Tensor | None,
        params: Mapping[str, Tensor] | None = None,
    ) -> Tensor:
        """``loss`` on checked inputs (the unchecked core: see the module docstring), a 0-d
        tensor.  ``params`` replaces the network's parameters (autograd_gradient passes
        detached copies)."""
        p = self.params if params is None else params
        _, _, h = self._hidden(x, mask, p)
        a2 = h @ p["W2"] + p["b2"]
        n = a2.shape[0]
        if self.loss_name == "softmax_cross_entropy":
            logp = log_softmax(a2)
        else:
            logp = torch.log(softmax(a2) + CEE_DELTA)
        if is_labels:
            data = -torch.sum(torch.gather(logp, 1, t.reshape(-1, 1))) / n
        else:
            data = -torch.sum(t * logp) / n
        return data + self._weight_decay(p)

    def count_correct_unchecked(self, x: Tensor, labels: Tensor) -> Tensor:
        """How many rows' logit argmax equals the label (torch.argmax, like np.argmax, takes the
        first of ties), on checked inputs, in one block; a 0-d device tensor (no sync)."""
        _, _, h = self._hidden(x, None)
        a2 = h @ self.W2 + self.b2
        return torch.count_nonzero(torch.argmax(a2, dim=1) == labels)

    def autograd_gradient(
        self, x: Tensor, t: Tensor, dropout_mask: Tensor | None = None
    ) -> dict[str, Tensor]:
        """∂L/∂p by ``loss.backward()`` through the same forward, on detached copies of the
        parameters (the module's own parameters get no ``.grad``).

        For ``loss="cross_entropy_error"`` this is the true gradient of the book's loss with δ
        inside the log, which differs from backprop's (y - t)/N by about 1e-7.
        """
        x, t_arr, is_labels, mask = self._checked(x, t, dropout_mask)
        leaves = {k: v.detach().clone().requires_grad_(True) for k, v in self.params.items()}
        with torch.enable_grad():
            self.loss_unchecked(x, t_arr, is_labels, mask, leaves).backward()
        return {k: leaves[k].grad for k in PARAM_NAMES}

    def numerical_gradient(
        self,
        x: Tensor,
        t: Tensor,
        dropout_mask: Tensor | None = None,
        h: float = 1e-4,
    ) -> dict[str, Tensor]:
        """Central differences, element by element, on each parameter (the book's slow way)."""
        loss = lambda _: self.loss(x, t, dropout_mask)  # noqa: E731 - the book's idiom
        return {k: numerical_gradient(loss, getattr(self, k), h=h) for k in PARAM_NAMES}

    @torch.no_grad()
    def numerical_gradient_fast(
        self,
        x: Tensor,
        t: Tensor,
        dropout_mask: Tensor | None = None,
        h: float = 1e-4,
        *,
        chunk: int = 4_000_000,
    ) -> dict[str, Tensor]:
        """The central differences (L(p+h) - L(p-h)) / 2h of the element loop, batched.

        One parameter moves one thing: W1[i, j] and b1[j] move the pre-activation of hidden unit
        j by h·x[:, i] (or h); W2[j, k] and b2[k] move logit k by h·h_j (or h).  So
        L(p+h) - L(p-h) = (1/N) Σ_n [ℓ_n(+) - ℓ_n(-)] over the samples it touches (for W1[i, j]
        those with x[n, i] ≠ 0, a fifth of MNIST's pixels), and each ℓ_n(±) is one row of a
        batched forward: hidden unit j of sample n moves by dz± = act(a1 ± h·x[n, i]) - z1,
        the logits by dz±·mask·W2[j, :].  Blocks of up to ``chunk`` logits are evaluated per
        torch call, so the work runs in a few large kernels (fast on a GPU).  The weight-decay
        term ½λ(p±h)² contributes exactly λp.  Computed in the network's dtype (float32 warns
        PrecisionWarning, as the element loop does); matches the element loop and
        reference_numpy's ``numerical_gradient_fast`` to rounding (≈1e-12 in float64).
        """
        x, t_arr, is_labels, mask_in = self._checked(x, t, dropout_mask)
        h = check_positive(h, "h")
        if isinstance(chunk, bool) or not isinstance(chunk, int) or chunk < 1:
            raise ValueError(f"chunk: expected a positive int, got {chunk!r}")
        if self.dtype != torch.float64:
            warnings.warn(
                f"x: numerical_gradient on {self.dtype} with h={h:g}: rounding error is about "
                f"{torch.finfo(self.dtype).eps / h:.0e} of the gradient; use float64",
                PrecisionWarning,
                stacklevel=3,
            )
        p = self.params
        a1 = x @ p["W1"] + p["b1"]
        z1 = self._act(a1)
        if mask_in is not None:
            mask = mask_in
        else:
            mask = torch.full_like(z1[0], 1 - self.dropout_ratio)[None].expand_as(z1)
        hid = z1 * mask
        a2 = hid @ p["W2"] + p["b2"]
        n, k_out = a2.shape
        hidden = z1.shape[1]
        signs = torch.tensor([h, -h], dtype=self.dtype, device=self.device)
        grads = {}

        # Output layer: shift logit k of every sample by ±h·hid[:, j] (W2) or ±h (b2).
        eye = torch.eye(k_out, dtype=self.dtype, device=self.device)
        cols = torch.cat([hid, torch.ones_like(hid[:, :1])], dim=1).T  # (H+1, N); last is b2
        dW2 = torch.empty((hidden + 1, k_out), dtype=self.dtype, device=self.device)
        per = max(1, chunk // (2 * k_out * n * k_out))
        for j0 in range(0, hidden + 1, per):
            c = cols[j0 : j0 + per]  # (J, N)
            shift = signs[:, None, None, None, None] * c[None, :, None, :, None]  # (2,J,1,N,1)
            a2p = a2 + shift * eye[None, None, :, None, :]  # (2, J, K, N, K)
            ln = self._per_sample_loss(a2p, t_arr, is_labels)  # (2, J, K, N)
            dW2[j0 : j0 + per] = (ln[0] - ln[1]).sum(dim=-1) / n / (2 * h)
        grads["W2"], grads["b2"] = dW2[:-1], dW2[-1]

        # Hidden layer: only (input, sample) pairs with x ≠ 0 move; a column of ones is b1.
        # Pairs are taken column by column (sorted by input i, then sample n) in blocks of
        # columns; each block's per-pair changes are placed in a dense (columns, N, H) buffer
        # and summed over N: deterministic on every device, unlike an atomic scatter-add.
        xbT = torch.cat([x, torch.ones_like(x[:, :1])], dim=1).T.contiguous()  # (D+1, N)
        d_in = xbT.shape[0]
        ii, nn_ = torch.nonzero(xbT, as_tuple=True)
        xv = xbT[ii, nn_]
        starts = [0, *torch.cumsum(torch.bincount(ii, minlength=d_in), 0).tolist()]
        dW1 = torch.zeros((d_in, hidden), dtype=self.dtype, device=self.device)
        per = max(1, chunk // (2 * hidden * k_out))  # pairs per batched forward
        cols_per_block = max(1, chunk // (n * hidden))
        for c0 in range(0, d_in, cols_per_block):
            c1 = min(c0 + cols_per_block, d_in)
            if starts[c0] == starts[c1]:
                continue  # inputs that are 0 in every sample: only weight decay moves them
            dense = torch.zeros(((c1 - c0) * n, hidden), dtype=self.dtype, device=self.device)
            for q0 in range(starts[c0], starts[c1], per):
                q = slice(q0, min(q0 + per, starts[c1]))
                rows = nn_[q]
                steps = signs[:, None, None] * xv[q][None, :, None]  # (2, Q, 1)
                a1r, z1r = a1.index_select(0, rows), z1.index_select(0, rows)
                dz = (self._act(a1r[None] + steps) - z1r[None]) * mask.index_select(0, rows)
                a2p = a2.index_select(0, rows)[None, :, None, :] + dz[..., None] * p["W2"]
                t_rows = t_arr.index_select(0, rows)
                t_rows = t_rows[None, :, None] if is_labels else t_rows[None, :, None, :]
                ln = self._per_sample_loss(a2p, t_rows, is_labels)  # (2, Q, H)
                dense.index_copy_(0, (ii[q] - c0) * n + rows, ln[0] - ln[1])  # disjoint rows
            dW1[c0:c1] = dense.view(c1 - c0, n, hidden).sum(dim=1)
        dW1 /= n * 2 * h
        grads["W1"], grads["b1"] = dW1[:-1], dW1[-1]

        lam = self.weight_decay_lambda
        if lam:
            grads["W1"] = grads["W1"] + lam * p["W1"]
            grads["W2"] = grads["W2"] + lam * p["W2"]
        return {k: grads[k].contiguous() for k in PARAM_NAMES}

    def _per_sample_loss(self, a2: Tensor, t: Tensor, is_labels: bool) -> Tensor:
        """ℓ_n for logits a2 (..., K); t broadcasts against a2's leading axes (labels) or
        against a2 (targets), e.g. (N,) or (N, K) when a2's sample axis is second to last.

        The operations of ``log_softmax``/``softmax`` (shifted = a - max a, e = exp(shifted),
        s = Σ e), but for labels only the label's entry is finished: -(shifted_t - log s), or
        -log(e_t / s + δ) for the book's loss; the same roundings, fewer passes over memory.
        """
        shifted = a2 - torch.amax(a2, dim=-1, keepdim=True)
        e = torch.exp(shifted)
        s = torch.sum(e, dim=-1, keepdim=True)
        sce = self.loss_name == "softmax_cross_entropy"
        if is_labels:
            labels = torch.broadcast_to(t, a2.shape[:-1])[..., None]
            if sce:
                return -(torch.gather(shifted, -1, labels) - torch.log(s))[..., 0]
            return -torch.log(torch.gather(e, -1, labels) / s + CEE_DELTA)[..., 0]
        logp = shifted - torch.log(s) if sce else torch.log(e / s + CEE_DELTA)
        return -torch.sum(t * logp, dim=-1)


def _one_hot(labels: Tensor, k: int, dtype: torch.dtype) -> Tensor:
    """(N, K) rows with a 1 at each label, by comparison (elementwise: graph-safe, exact)."""
    return (torch.arange(k, device=labels.device)[None, :] == labels.reshape(-1, 1)).to(dtype)


def _checked_params(
    params: Mapping[str, Tensor | np.ndarray],
    shapes: dict[str, tuple[int, ...]],
    device: torch.device,
    dtype: torch.dtype,
) -> dict[str, Tensor]:
    missing = [k for k in PARAM_NAMES if k not in params]
    if missing:
        raise ValueError(f"params: expected keys {list(PARAM_NAMES)}, missing {missing}")
    out = {}
    for k in PARAM_NAMES:
        v = as_float_tensor(params[k], f"params[{k!r}]")
        if tuple(v.shape) != shapes[k]:
            raise ValueError(f"params[{k!r}]: expected shape {shapes[k]}, got {tuple(v.shape)}")
        check_finite(v, f"params[{k!r}]")
        out[k] = v.detach().to(device=device, dtype=dtype, copy=True)
    return out

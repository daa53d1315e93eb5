"""What a training run leaves behind, written and read back in every engine.

* Parameters: each engine's ``save_params`` of its run's final parameters, read back by
  NumPy's ``load_params`` and by the engine's own, byte for byte (the file is the same format
  in both engines, so either reads the other's).
* The history: ``TrainHistory.save_json`` then ``load_json``, every list byte for byte, and a
  run without early stopping recording ``stopped_at`` and ``best_iter`` as None.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from reference_numpy.networks import PARAM_NAMES

from ..observe import Observation
from .context import Context

GROUP = "training"
PARAMS_CHECK = "save_params, then load_params (NumPy's and the engine's)"
HISTORY_CHECK = "TrainHistory.save_json, then load_json"
LISTS = ("train_loss_list", "train_acc_list", "test_acc_list", "eval_iters")


def observe(ctx: Context) -> list[Observation]:
    """For the training group's free-running eager runs (``ctx.final_params``, ``ctx.curves``)."""
    from reference_numpy.training import load_params

    obs = []
    with tempfile.TemporaryDirectory(prefix="nnparity-verify-saved-") as tmp:
        for eng in [ctx.reference, *ctx.engines]:
            key = "reference" if eng is ctx.reference else eng.name
            if key not in ctx.final_params:
                continue
            final, hist = ctx.final_params[key], ctx.curves[key]
            training = eng.mod("training")
            path = Path(tmp) / f"{len(obs)}-params.npz"
            training.save_params(eng.params_to(final), path)
            for reader, loaded in (("NumPy's load_params", load_params(path)),
                                   ("the engine's load_params", training.load_params(path))):
                obs += [Observation(PARAMS_CHECK, GROUP, eng.name, "exact", "saved",
                                    f"{reader}: {k}", eng.back(loaded[k]), final[k])
                        for k in PARAM_NAMES]
            path = Path(tmp) / f"{len(obs)}-history.json"
            hist.save_json(path)
            back = type(hist).load_json(path)
            for name in LISTS:
                obs.append(Observation(HISTORY_CHECK, GROUP, eng.name, "exact", "saved", name,
                                       np.asarray(getattr(back, name), dtype=np.float64),
                                       np.asarray(getattr(hist, name), dtype=np.float64)))
            # No early stopping in these runs: nothing stopped, no best evaluation.
            unset = [hist.stopped_at is None, hist.best_iter is None,
                     back.stopped_at is None, back.best_iter is None]
            obs.append(Observation(HISTORY_CHECK, GROUP, eng.name, "exact", "saved",
                                   "stopped_at and best_iter None without early stopping "
                                   "(before and after)", np.array(unset, dtype=np.float64),
                                   np.ones(4)))
    return obs

"""Momentum that starts a new velocity at every update: right at step 1, wrong from step 2."""

import numpy as np


class Momentum:
    def __init__(self, lr=0.01, momentum=0.9):
        self.lr = lr
        self.momentum = momentum

    def update(self, params, grads):
        v = {key: np.zeros_like(val) for key, val in params.items()}
        for key in params.keys():
            v[key] = self.momentum * v[key] - self.lr * grads[key]
            params[key] += v[key]

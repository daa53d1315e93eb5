"""Two optimizers written for torch tensors (update in place under no_grad), oracle fixture:
check_module retries them with tensors when NumPy arrays raise."""

import torch


class SGD:
    def __init__(self, lr=0.01):
        self.lr = lr

    def update(self, params, grads):
        with torch.no_grad():
            for k in params:
                params[k].sub_(self.lr * grads[k])


class Momentum:
    def __init__(self, lr=0.01, momentum=0.9):
        self.lr, self.momentum, self.v = lr, momentum, None

    def update(self, params, grads):
        if self.v is None:
            self.v = {k: torch.zeros_like(p) for k, p in params.items()}
        for k in params:
            self.v[k] = self.momentum * self.v[k] - self.lr * grads[k]
            params[k] += self.v[k]

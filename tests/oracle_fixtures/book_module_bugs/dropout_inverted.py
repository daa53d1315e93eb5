"""Inverted dropout (scale 1/(1 - ratio) while training, none at test): right under
convention='inverted', named and failed under the default 'book' convention."""

import numpy as np


class Dropout:
    def __init__(self, dropout_ratio=0.5):
        self.dropout_ratio = dropout_ratio
        self.mask = None

    def forward(self, x, train_flg=True):
        if train_flg:
            self.mask = (np.random.rand(*x.shape) > self.dropout_ratio) / (1 - self.dropout_ratio)
            return x * self.mask
        return x

    def backward(self, dout):
        return dout * self.mask

"""TwoLayerNet.accuracy in batches of 100 over range(N // 100): the last partial batch is lost."""

import numpy as np

from tests.oracle_fixtures.book_module.networks import TwoLayerNet as _Correct


class TwoLayerNet(_Correct):
    def accuracy(self, x, t, batch_size=100):
        if t.ndim != 1:
            t = np.argmax(t, axis=1)
        acc = 0.0
        for i in range(int(x.shape[0] / batch_size)):
            tx = x[i * batch_size:(i + 1) * batch_size]
            tt = t[i * batch_size:(i + 1) * batch_size]
            acc += np.sum(np.argmax(self.predict(tx), axis=1) == tt)
        return acc / x.shape[0]

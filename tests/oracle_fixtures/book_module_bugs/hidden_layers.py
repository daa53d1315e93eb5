"""TwoLayerNet keeping copies of its weights in a private tuple of layers: weights assigned to
net.params never reach the forward pass ("parameters not copied into the layers")."""

from tests.oracle_fixtures.book_module.layers import Affine, Relu, SoftmaxWithLoss
from tests.oracle_fixtures.book_module.networks import TwoLayerNet as _Correct


class TwoLayerNet(_Correct):
    def __init__(self, input_size, hidden_size, output_size, weight_init_std=0.01):
        super().__init__(input_size, hidden_size, output_size, weight_init_std)
        del self.layers
        self._stack = (Affine(self.params["W1"].copy(), self.params["b1"].copy()), Relu(),
                       Affine(self.params["W2"].copy(), self.params["b2"].copy()))
        self.lastLayer = SoftmaxWithLoss()

    def predict(self, x):
        for layer in self._stack:
            x = layer.forward(x)
        return x

    def gradient(self, x, t):
        self.loss(x, t)
        dout = self.lastLayer.backward(1)
        for layer in reversed(self._stack):
            dout = layer.backward(dout)
        return {"W1": self._stack[0].dW, "b1": self._stack[0].db,
                "W2": self._stack[2].dW, "b2": self._stack[2].db}

"""TwoLayerNet whose Affine layers get copies of params: an update of net.params never reaches
the layers, so training does not move the network ("parameters not copied into the layers")."""

from collections import OrderedDict

from tests.oracle_fixtures.book_module.layers import Affine, Relu
from tests.oracle_fixtures.book_module.networks import TwoLayerNet as _Correct


class TwoLayerNet(_Correct):
    def __init__(self, input_size, hidden_size, output_size, weight_init_std=0.01):
        super().__init__(input_size, hidden_size, output_size, weight_init_std)
        self.layers = OrderedDict()
        self.layers["Affine1"] = Affine(self.params["W1"].copy(), self.params["b1"].copy())
        self.layers["Relu1"] = Relu()
        self.layers["Affine2"] = Affine(self.params["W2"].copy(), self.params["b2"].copy())


from tests.oracle_fixtures.book_module.optimizer import SGD  # noqa: E402,F401 - the loop's

"""A correct book-style implementation of the chapter, as a folder package (oracle fixture).

Written for the oracle's tests, in the book's style (not the book's code): module-level
functions, layer classes, a TwoLayerNet without a ``params=`` constructor whose weights live in
Affine layers held in an OrderedDict, losses that take one-hot targets only, the six optimizers
with ``update(params, grads)``, and the book's non-inverted Dropout.
"""

from .functions import (
    cross_entropy_error,
    mean_squared_error,
    relu,
    sigmoid,
    softmax,
    step_function,
)
from .gradient import gradient_descent, numerical_diff, numerical_gradient
from .layers import Affine, Dropout, Relu, SoftmaxWithLoss
from .networks import TwoLayerNet, simpleNet
from .optimizer import SGD, AdaGrad, Adam, Momentum, Nesterov, RMSprop

__all__ = [
    "AdaGrad", "Adam", "Affine", "Dropout", "Momentum", "Nesterov", "RMSprop", "Relu", "SGD",
    "SoftmaxWithLoss", "TwoLayerNet", "cross_entropy_error", "gradient_descent",
    "mean_squared_error", "numerical_diff", "numerical_gradient", "relu", "sigmoid",
    "simpleNet", "softmax", "step_function",
]

"""numerical_diff as a forward difference: 0.200001 instead of the notes' 0.1999999999990898."""


def numerical_diff(f, x):
    h = 1e-4
    return (f(x + h) - f(x)) / h

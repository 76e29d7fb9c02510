"""The simulation's NumPy models (spec/18-simulation.md, D18.2): logistic regression and an MLP.

Each model is a flat parameter vector theta with probabilities(theta, x) and the per-example
cross-entropy gradients that DP clipping needs (D17.1).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

F64 = NDArray[np.float64]
CLASSES, FEATURES = 10, 64


def softmax(logits: F64) -> F64:
    shifted = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    return np.asarray(e / e.sum(axis=1, keepdims=True))


def _delta(p: F64, y: NDArray[np.int64]) -> F64:
    # d(cross-entropy)/d(logits) for every example: p - onehot(y).
    d = p.copy()
    d[np.arange(len(y)), y] -= 1.0
    return d


class LogisticRegression:
    """Multinomial logistic regression: 64 x 10 weights then 10 biases (650 parameters)."""

    name = "logreg"
    dim = CLASSES * FEATURES + CLASSES

    def init(self, gen: np.random.Generator) -> F64:
        return np.zeros(self.dim)

    def probabilities(self, theta: F64, x: F64) -> F64:
        w = theta[: CLASSES * FEATURES].reshape(FEATURES, CLASSES)
        return softmax(x @ w + theta[CLASSES * FEATURES :])

    def per_example_grads(self, theta: F64, x: F64, y: NDArray[np.int64]) -> F64:
        d = _delta(self.probabilities(theta, x), y)
        dw = x[:, :, None] * d[:, None, :]
        return np.asarray(np.concatenate([dw.reshape(len(y), -1), d], axis=1))


class MLP:
    """One hidden ReLU layer of 32 units: W1 (64 x 32), b1, W2 (32 x 10), b2 (2,410 parameters)."""

    name = "mlp"
    hidden = 32
    shapes = ((FEATURES, 32), (32,), (32, CLASSES), (CLASSES,))
    dim = sum(int(np.prod(s)) for s in shapes)

    def _unpack(self, theta: F64) -> list[F64]:
        parts, start = [], 0
        for shape in self.shapes:
            size = int(np.prod(shape))
            parts.append(theta[start : start + size].reshape(shape))
            start += size
        return parts

    def init(self, gen: np.random.Generator) -> F64:
        # He initialisation for the ReLU layer, small output weights, zero biases.
        w1 = gen.standard_normal((FEATURES, self.hidden)) * np.sqrt(2.0 / FEATURES)
        w2 = gen.standard_normal((self.hidden, CLASSES)) * 0.01
        return np.concatenate([w1.ravel(), np.zeros(self.hidden), w2.ravel(), np.zeros(CLASSES)])

    def _forward(self, theta: F64, x: F64) -> tuple[F64, F64]:
        w1, b1, w2, b2 = self._unpack(theta)
        h = np.maximum(x @ w1 + b1, 0.0)
        return h, softmax(h @ w2 + b2)

    def probabilities(self, theta: F64, x: F64) -> F64:
        return self._forward(theta, x)[1]

    def per_example_grads(self, theta: F64, x: F64, y: NDArray[np.int64]) -> F64:
        _, _, w2, _ = self._unpack(theta)
        h, p = self._forward(theta, x)
        d2 = _delta(p, y)
        d1 = (d2 @ w2.T) * (h > 0)
        b = len(y)
        parts = [
            (x[:, :, None] * d1[:, None, :]).reshape(b, -1),
            d1,
            (h[:, :, None] * d2[:, None, :]).reshape(b, -1),
            d2,
        ]
        return np.asarray(np.concatenate(parts, axis=1))


MODELS: dict[str, Any] = {"logreg": LogisticRegression(), "mlp": MLP()}

"""scikit-learn's bundled 8x8 handwritten digits (``sklearn.datasets.load_digits``, offline)
as a binary pair of "series": the book's stand-in for the MNIST case study of Wang (2023),
PhD dissertation, ch. 2, sec. 2.5 (Figures 2.5 and 2.6: "4" the majority, "7" the
minority). MNIST's 28x28 images are not available offline; the 8x8 digits are (1,797
images, about 180 per digit)."""

from __future__ import annotations

import numpy as np

from .datasets import Dataset

DIGITS_SIDE = 8


def load_digits_pair(majority: int = 4, minority: int = 7) -> Dataset:
    """Every 8x8 image of digits ``majority`` (label 0) and ``minority`` (label 1) as a
    :class:`~tsimb.data.Dataset` of ``(n, 1, 64)`` series: the pixels in row-major order,
    scaled from 0..16 to [0, 1] (so the series code runs unchanged and
    ``X.reshape(-1, 8, 8)`` is the image). Both classes are complete (about 180 each): the
    imbalance protocol of sec. 2.4.1 (:func:`tsimb.data.binary_pair`) is the caller's.
    The split is ``"all"``. Stand-in for MNIST in Wang (2023), sec. 2.5."""
    from sklearn.datasets import load_digits

    for name, digit in (("majority", majority), ("minority", minority)):
        if isinstance(digit, bool) or not isinstance(digit, (int, np.integer)) or not 0 <= digit <= 9:
            raise ValueError(f"{name} must be a digit 0..9, got {digit!r}")
    if majority == minority:
        raise ValueError(f"majority and minority must be different digits, got {majority} twice")
    digits = load_digits()
    keep = np.isin(digits.target, [majority, minority])
    X = (digits.data[keep] / 16.0).astype(np.float32)[:, None, :]
    y = (digits.target[keep] == minority).astype(np.int64)
    return Dataset("digits", "all", X, y, (str(majority), str(minority)), "scikit-learn load_digits (8x8)")

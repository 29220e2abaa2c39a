"""All-zero class or sample weights train nothing: they are refused with a clear error
(issue 20 item 10), where they are given (fit) and where a schedule is built (DRW)."""

from __future__ import annotations

import numpy as np
import pytest

from tsimb.losses import DeferredReweighting
from tsimb.models import build_model
from tsimb.runtime import seed_everything
from tsimb.train import fit


@pytest.fixture
def data(make_series):
    return make_series([6, 4], length=16)


def _model():
    seed_everything(0)
    return build_model("cnn", 1, 2, length=16)


@pytest.mark.parametrize("weights", [np.zeros(2), [0.0, 0.0]])
def test_all_zero_class_weights_are_refused(data, weights):
    X, y = data
    with pytest.raises(ValueError, match="class_weight is zero everywhere"):
        fit(_model(), X, y, epochs=1, batch_size=4, class_weight=weights)


def test_all_zero_sample_weights_are_refused(data):
    X, y = data
    with pytest.raises(ValueError, match="sample_weight is zero everywhere"):
        fit(_model(), X, y, epochs=1, batch_size=4, sample_weight=np.zeros(len(y)))


def test_a_drw_schedule_with_zero_weights_is_refused_when_built():
    with pytest.raises(ValueError, match="zero for every class"):
        DeferredReweighting(np.zeros(3), start_epoch=2)
    with pytest.raises(ValueError, match="finite, non-negative"):
        DeferredReweighting(np.array([1.0, np.nan]), start_epoch=2)


def test_some_zero_weights_still_train(data):
    X, y = data
    history = fit(_model(), X, y, epochs=2, batch_size=4, class_weight=[0.0, 1.0])
    assert all(np.isfinite(history.loss)) and max(history.loss) > 0

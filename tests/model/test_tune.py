"""``python -m model.tune``: any variant of the gbm recipe cross-validated on the training folds."""

from __future__ import annotations

import re

from model import tune


def test_a_small_variant_is_cross_validated_and_its_metrics_printed(capsys):
    status = tune.main(["--members", "relative", "--rounds", "5", "--set", "learning_rate=0.3", "--scale", "1"])

    out = capsys.readouterr().out
    assert status == 0
    assert "members ['relative'], settings {'learning_rate': 0.3}, 5 rounds, scale 1" in out
    mape = float(re.search(r"MAPE (\d+\.\d+)%", out).group(1))
    assert 11.0 < mape < 40.0   # five trees: far worse than the recipe, far better than nothing

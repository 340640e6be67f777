"""An artifact's 80% price range, applied to prices: the one implementation training and serving share.

The ``interval`` entry of a model's metadata (written by ``model/interval.py``) holds, for each
band of *estimated* price (``band_edges`` in USD), the 10th and 90th percentiles of
``log(actual / estimated)`` over cross-validation: the range for an estimate ``p`` in band ``b``
is ``[p * exp(low_b), p * exp(high_b)]``, rounded to the cent. Bands matter: cheap and very
expensive homes are harder to price, so one width for all would cover them less than 8 times in 10.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Mapping, Sequence
from typing import Any


class PriceIntervals:
    def __init__(self, spec: Mapping[str, Any]) -> None:
        self.coverage = float(spec["coverage"])
        self.band_edges = [float(edge) for edge in spec["band_edges"]]
        offsets = spec["log_offsets"]
        if len(offsets) != len(self.band_edges) + 1:
            raise ValueError(f"{len(self.band_edges)} band edges need {len(self.band_edges) + 1} offsets, "
                             f"got {len(offsets)}")
        self._factors = [(math.exp(o["low"]), math.exp(o["high"])) for o in offsets]

    def band(self, price: float) -> int:
        """Band index of an estimate: edges[b - 1] <= price < edges[b] (``numpy.digitize``'s rule)."""
        return bisect.bisect_right(self.band_edges, price)

    def __call__(self, prices: Sequence[float]) -> list[tuple[float, float]]:
        bounds = []
        for price in prices:
            low, high = self._factors[self.band(price)]
            bounds.append((round(price * low, 2), round(price * high, 2)))
        return bounds

"""What nearby training homes sold for: the neighbourhood columns of the gbm model.

For each house, each target column and each k in ``neighbours``: the mean target of the k
training houses nearest to it (straight-line distance in km on a flat projection of King
County). The targets are the training houses' market-adjusted prices on the scales the model's
members learn. Training encodes its own houses out of fold (``model/gbm.py``), so no house sees
its own price; serving encodes a request against every training house.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from scipy.spatial import cKDTree

KM_PER_DEGREE_LATITUDE = 111.2
KM_PER_DEGREE_LONGITUDE = KM_PER_DEGREE_LATITUDE * float(np.cos(np.radians(47.5)))  # at King County


def to_km(lat: np.ndarray, long: np.ndarray) -> np.ndarray:
    return np.column_stack([np.asarray(lat, dtype=np.float64) * KM_PER_DEGREE_LATITUDE,
                            np.asarray(long, dtype=np.float64) * KM_PER_DEGREE_LONGITUDE])


def nearest_means(tree: cKDTree, targets: np.ndarray, points_km: np.ndarray, neighbours: Sequence[int]) -> np.ndarray:
    """Columns ``target x k`` (target-major): the mean of each target column over the k nearest."""
    _, nearest = tree.query(points_km, k=max(neighbours))
    near = targets[np.asarray(nearest).reshape(len(points_km), -1)]   # houses x neighbours x targets
    return np.column_stack([near[:, :k, column].mean(axis=1) for column in range(targets.shape[1]) for k in neighbours])


class NeighbourPrices:
    """The training houses' locations and targets; ``encode`` gives a house its neighbours' prices."""

    def __init__(self, *, lat: Sequence[float], long: Sequence[float], targets: Mapping[str, Sequence[float]],
                 neighbours: Sequence[int]) -> None:
        self.lat = np.asarray(lat, dtype=np.float64)
        self.long = np.asarray(long, dtype=np.float64)
        self.target_names = list(targets)
        self.targets = np.column_stack([np.asarray(targets[name], dtype=np.float64) for name in self.target_names])
        self.neighbours = tuple(int(k) for k in neighbours)
        if not (len(self.lat) == len(self.long) == len(self.targets)) or len(self.lat) < max(self.neighbours):
            raise ValueError(f"{len(self.lat)} training houses for neighbours {self.neighbours}: "
                             "lengths differ or too few")
        self._tree = cKDTree(to_km(self.lat, self.long))

    def encode(self, lat: np.ndarray, long: np.ndarray) -> dict[str, np.ndarray]:
        """Target name -> columns (one per k) for the houses at ``lat``/``long``."""
        columns = nearest_means(self._tree, self.targets, to_km(lat, long), self.neighbours)
        per_target = len(self.neighbours)
        return {name: columns[:, i * per_target:(i + 1) * per_target] for i, name in enumerate(self.target_names)}

    def to_json(self) -> dict[str, Any]:
        return {"neighbours": list(self.neighbours), "lat": self.lat.tolist(), "long": self.long.tolist(),
                "targets": {name: self.targets[:, i].tolist() for i, name in enumerate(self.target_names)}}

    @classmethod
    def from_json(cls, spec: Mapping[str, Any]) -> NeighbourPrices:
        return cls(lat=spec["lat"], long=spec["long"], targets=spec["targets"], neighbours=spec["neighbours"])

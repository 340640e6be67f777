"""The client's own model (``basic``): its pickled scikit-learn pipeline, priced as the client prices it.

Unpickling runs code, so it is only done after the registry has checked every file's checksum and
that this process has the scikit-learn version the pickle was made with. scikit-learn is imported
here, when such a model loads, never by a process that serves only LightGBM models.

The client's KNN runs one OpenMP thread per core and breaks distance ties differently with one
thread than with two (measured: 2 of the 100 future houses change price). Every prediction runs
with the native pools limited to one thread, so any machine returns the same price to the cent,
and several server processes on a small machine do not oversubscribe its cores. The limit is
taken per call (about 20 us) because OpenMP keeps its thread count per calling thread: a
process-wide setting made on the main thread does not reach a server's worker threads.
"""

from __future__ import annotations

import pickle
import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np

FORMAT = "sklearn-pickle"
MODEL_FILE = "model.pkl"


class PickledEstimator:
    def __init__(self, estimator: Any) -> None:
        from threadpoolctl import ThreadpoolController

        self.estimator = estimator
        # Created after unpickling, so it sees the native libraries the estimator loaded.
        self._threadpools = ThreadpoolController()

    def predict(self, x: np.ndarray) -> np.ndarray:
        with self._threadpools.limit(limits=1):
            return np.asarray(self.estimator.predict(x), dtype=np.float64)

    def files(self) -> dict[str, bytes]:
        return {MODEL_FILE: pickle.dumps(self.estimator, protocol=pickle.HIGHEST_PROTOCOL)}

    @classmethod
    def load(cls, files: Mapping[str, bytes]) -> PickledEstimator:
        # The matrix is built in model_features.json order, which scikit-learn cannot check by
        # name; FeatureBuilder guarantees (and tests prove) the order instead.
        warnings.filterwarnings("ignore", message="X does not have valid feature names")
        return cls(pickle.loads(files[MODEL_FILE]))

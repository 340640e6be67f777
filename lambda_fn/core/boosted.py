"""The gbm model: LightGBM members on market-adjusted price, blended, at the month asked for.

- A market index (one log offset per month of the data, learnt at training) takes the month out
  of every sale before the members learn; a price asked for a month gets that month's offset back.
- ``NeighbourPrices`` adds what the nearest training homes sold for, on each member's scale.
- Each member is a LightGBM booster with its own target: ``log_price_per_sqft``, ``log_price`` or
  ``price_per_sqft``; the price is the geometric mean of the members' prices.

Files: one LightGBM text model per member and ``model.json`` for the rest (columns, index,
neighbours, members). Nothing is pickled. Prediction uses LightGBM's public ``Booster.predict``
on one thread, so a price does not depend on the machine's cores.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from lambda_fn.core.features import MARKET_MONTH
from lambda_fn.core.market import month_number
from lambda_fn.core.neighbourhood import NeighbourPrices

if TYPE_CHECKING:
    import lightgbm

FORMAT = "lightgbm-blend"
SPEC_FILE = "model.json"
TARGETS = ("log_price_per_sqft", "log_price", "price_per_sqft")


def import_lightgbm() -> Any:
    """``lightgbm``, imported without scikit-learn and pandas unless this process already has them.

    Its package ``__init__`` imports both when installed, for estimator wrappers this service never
    calls: 1.1 s of a cold start here, where scikit-learn is installed for the client's pickled
    model. Python's documented ``sys.modules[name] = None`` makes those imports fail for the
    moment, and lightgbm then skips its wrappers; the entries are removed again right after.
    """
    if "lightgbm" in sys.modules:
        return sys.modules["lightgbm"]
    hidden = [name for name in ("sklearn", "pandas") if name not in sys.modules]
    for name in hidden:
        sys.modules[name] = None  # type: ignore[assignment]
    try:
        import lightgbm
    finally:
        for name in hidden:
            if sys.modules.get(name, False) is None:
                del sys.modules[name]
    return lightgbm


def member_log_price_per_sqft(target: str, raw: np.ndarray, log_area: np.ndarray) -> np.ndarray:
    """A member's raw prediction as log price per square foot."""
    if target == "log_price_per_sqft":
        return raw
    if target == "log_price":
        return raw - log_area
    if target == "price_per_sqft":
        return np.log(np.maximum(raw, 1e-6))   # absolute-error leaves stay positive in practice; never log(<=0)
    raise ValueError(f"unknown target {target!r}; known: {', '.join(TARGETS)}")


@dataclass(frozen=True)
class Member:
    target: str                 # what the booster predicts, one of TARGETS
    neighbour_target: str       # which neighbourhood columns it sees (NeighbourPrices target name)
    booster: lightgbm.Booster


class BoostedPrices:
    """Prices in USD from a feature matrix in ``features`` order (``lambda_fn.core.features``)."""

    def __init__(self, *, features: Sequence[str], members: Sequence[Member], neighbours: NeighbourPrices,
                 first_month: str, month_offsets: Sequence[float]) -> None:
        self.features = list(features)
        self.members = list(members)
        if not self.members:
            raise ValueError("a blend needs at least one member")
        self.neighbours = neighbours
        self.first_month = first_month
        self.month_offsets = np.asarray(month_offsets, dtype=np.float64)
        self._first = month_number(first_month)
        self._month = self.features.index(MARKET_MONTH)
        self._sqft_living = self.features.index("sqft_living")
        self._tree_columns = [i for i, name in enumerate(self.features) if name != MARKET_MONTH]
        self._lat, self._long = self.features.index("lat"), self.features.index("long")

    @property
    def tree_features(self) -> list[str]:
        """The house's columns every member sees, before its neighbourhood columns."""
        return [self.features[i] for i in self._tree_columns]

    def month_offset(self, x: np.ndarray) -> np.ndarray:
        """The market index at each row's month; a month after the data takes the last month's.
        Months before the data are refused upstream (``MarketMonths``)."""
        rows = np.minimum(x[:, self._month] - self._first, len(self.month_offsets) - 1)
        return self.month_offsets[rows.astype(np.intp)]

    def member_columns(self, x: np.ndarray, neighbourhood: dict[str, np.ndarray], member: Member) -> np.ndarray:
        return np.hstack([x[:, self._tree_columns], neighbourhood[member.neighbour_target]])

    def predict(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        log_area = np.log(x[:, self._sqft_living])
        neighbourhood = self.neighbours.encode(x[:, self._lat], x[:, self._long])
        total = np.zeros(len(x))
        for member in self.members:
            raw = member.booster.predict(self.member_columns(x, neighbourhood, member), num_threads=1)
            total += member_log_price_per_sqft(member.target, raw, log_area)
        return np.exp(total / len(self.members) + self.month_offset(x) + log_area)

    # -- files ----------------------------------------------------------------------------------
    def files(self) -> dict[str, bytes]:
        """File name -> contents: every member's LightGBM text model and ``model.json``."""
        files = {f"member-{i}.txt": m.booster.model_to_string().encode() for i, m in enumerate(self.members)}
        spec = {"format": FORMAT, "features": self.features, "first_month": self.first_month,
                "month_offsets": self.month_offsets.tolist(), "neighbourhood": self.neighbours.to_json(),
                "members": [{"file": f"member-{i}.txt", "target": m.target, "neighbour_target": m.neighbour_target}
                            for i, m in enumerate(self.members)]}
        files[SPEC_FILE] = json.dumps(spec).encode()
        return files

    @classmethod
    def load(cls, files: Mapping[str, bytes]) -> BoostedPrices:
        """From ``files()``'s output (a version's verified files, by name)."""
        lightgbm = import_lightgbm()
        spec = json.loads(files[SPEC_FILE])
        if spec.get("format") != FORMAT:
            raise ValueError(f"{SPEC_FILE} is not a {FORMAT} model")
        members = [Member(target=m["target"], neighbour_target=m["neighbour_target"],
                          booster=lightgbm.Booster(model_str=files[m["file"]].decode("utf-8")))
                   for m in spec["members"]]
        return cls(features=spec["features"], members=members,
                   neighbours=NeighbourPrices.from_json(spec["neighbourhood"]),
                   first_month=spec["first_month"], month_offsets=spec["month_offsets"])

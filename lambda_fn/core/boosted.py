"""The gbm model: LightGBM members on market-adjusted prices, blended, at the month asked for.

- A market index (one log offset per month of the data, learnt at training) takes the month out
  of every sale before the members learn; a price asked for a month gets that month's offset back.
- ``Neighbourhood`` describes what the nearest training sales sold for and how this house differs
  from them (``lambda_fn/core/neighbourhood.py``).
- Each member is a LightGBM booster with its own target (``log_price_per_sqft`` or ``log_price``)
  and its own columns, named: the house's features and some neighbourhood
  columns. Members that see the houses differently err differently; the price is the geometric
  mean of theirs, times ``scale`` (below 1: the mean absolute percentage error is smallest a little
  under the median, chosen by cross-validation).

Files: one LightGBM text model per member and ``model.json`` for the rest (columns, index,
neighbourhood, members). Nothing is pickled. Prediction uses LightGBM's public API on one thread
(``Booster.predict``, or its C API's single-row path for a few rows: ``lightgbm_rows``), so a
price does not depend on the machine's cores.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from lambda_fn.core.features import MARKET_MONTH
from lambda_fn.core.lightgbm_rows import RowPredictor
from lambda_fn.core.market import month_number
from lambda_fn.core.neighbourhood import Neighbourhood, attributes, column_names

if TYPE_CHECKING:
    import lightgbm

FORMAT = "lightgbm-blend"
SPEC_FILE = "model.json"
TARGETS = ("log_price_per_sqft", "log_price")
# Up to this many rows a member predicts row by row through the C API's fast path (about 5 us a
# row); more go to Booster.predict, whose fixed cost of about 50 us a call is then spread thin.
FEW_ROWS = 16


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
    raise ValueError(f"unknown target {target!r}; known: {', '.join(TARGETS)}")


@dataclass(frozen=True)
class Member:
    target: str                 # what the booster predicts, one of TARGETS
    columns: tuple[str, ...]    # the columns it sees, by name (BoostedPrices.columns)
    booster: lightgbm.Booster
    model_text: str | None = None   # the booster's text model as loaded, spared a model_to_string


def house_attributes(x: np.ndarray, features: Sequence[str], regressors: Sequence[str] = ()) -> np.ndarray:
    """What a neighbourhood compares (log size, grade, effective year, log lot), then the house's
    ``regressors`` (``Neighbourhood.regressors``), from a feature matrix."""
    def column(name: str) -> np.ndarray:
        return x[:, features.index(name)]

    return attributes(column("sqft_living"), column("grade"), np.maximum(column("yr_built"), column("yr_renovated")),
                      column("sqft_lot"), *(column(name) for name in regressors))


class BoostedPrices:
    """Prices in USD from a feature matrix in ``features`` order (``lambda_fn.core.features``)."""

    def __init__(self, *, features: Sequence[str], members: Sequence[Member], neighbourhood: Neighbourhood,
                 first_month: str, month_offsets: Sequence[float], scale: float = 1.0) -> None:
        self.features = list(features)
        self.members = list(members)
        if not self.members:
            raise ValueError("a blend needs at least one member")
        self.neighbourhood = neighbourhood
        self.first_month = first_month
        self.month_offsets = np.asarray(month_offsets, dtype=np.float64)
        self.scale = float(scale)
        self._first = month_number(first_month)
        self._month = self.features.index(MARKET_MONTH)
        self._sqft_living = self.features.index("sqft_living")
        self._lat, self._long = self.features.index("lat"), self.features.index("long")
        self._tree_columns = [i for i, name in enumerate(self.features) if name != MARKET_MONTH]
        position = {name: i for i, name in enumerate(self.columns)}
        unknown = sorted({c for m in self.members for c in m.columns} - set(position))
        if unknown:
            raise ValueError(f"members read columns that do not exist: {unknown}")
        self._member_columns = [np.array([position[c] for c in m.columns], dtype=np.intp) for m in self.members]
        self._row_predictors: list[RowPredictor] | None = None

    def _member_predict(self, member: int, inputs: np.ndarray) -> np.ndarray:
        """The member's raw predictions from ``inputs`` (all ``columns``), on one thread, by whichever
        LightGBM call is faster for this many rows."""
        if len(inputs) > FEW_ROWS:
            return self.members[member].booster.predict(self.member_inputs(inputs, member), num_threads=1)
        if self._row_predictors is None:   # built once, on the first few rows (a version's smoke test)
            lightgbm = import_lightgbm()
            self._row_predictors = [RowPredictor(m.model_text or m.booster.model_to_string(), lightgbm)
                                    for m in self.members]
        return self._row_predictors[member].predict(inputs, self._member_columns[member])

    @property
    def columns(self) -> list[str]:
        """Every column a member may see: the house's features (not the month), then the neighbourhood's."""
        return [self.features[i] for i in self._tree_columns] + column_names()

    def month_offset(self, x: np.ndarray) -> np.ndarray:
        """The market index at each row's month (``index_at``)."""
        return self.index_at(x[:, self._month])

    def index_at(self, months: np.ndarray) -> np.ndarray:
        """The market index (a log offset) at each month number (``core.market``); a month after the
        data takes the last month's. Months before the data are refused upstream (``MarketMonths``)."""
        rows = np.minimum(np.asarray(months, dtype=np.float64) - self._first, len(self.month_offsets) - 1)
        return self.month_offsets[rows.astype(np.intp)]

    def inputs(self, x: np.ndarray) -> np.ndarray:
        """The ``columns`` for feature rows ``x``."""
        house = house_attributes(x, self.features, self.neighbourhood.regressors)
        around = self.neighbourhood.describe(x[:, self._lat], x[:, self._long], house)
        return np.concatenate((x[:, self._tree_columns], around), axis=1)

    def member_inputs(self, inputs: np.ndarray, member: int) -> np.ndarray:
        return inputs[:, self._member_columns[member]]

    def predict(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        log_area = np.log(x[:, self._sqft_living])
        inputs = self.inputs(x)
        total = np.zeros(len(x))
        for i, member in enumerate(self.members):
            raw = self._member_predict(i, inputs)
            total += member_log_price_per_sqft(member.target, raw, log_area)
        return self.scale * np.exp(total / len(self.members) + self.month_offset(x) + log_area)

    # -- explanations ---------------------------------------------------------------------------
    @property
    def explained_columns(self) -> list[str]:
        """The columns ``log_contributions`` attributes to: ``columns``, then the market month."""
        return [*self.columns, MARKET_MONTH]

    def log_contributions(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        """The baseline log price and, per row, each ``explained_columns`` share of log(price) - baseline.

        Exact, from LightGBM's own tree attributions (``pred_contrib``), averaged over the members as
        the blend averages them. The baseline is every member's expected value, at the index's
        average month, for a house of the training homes' mean log living area; a per-square-foot
        member's ``log(sqft_living) - that mean`` goes to ``sqft_living``, and the month's index to
        the market month. ``log(predict(x)) == baseline + shares.sum(axis=1)`` to float precision.
        """
        x = np.asarray(x, dtype=np.float64)
        log_area = np.log(x[:, self._sqft_living])
        mean_log_area = float(np.log(self.neighbourhood.stored["sqft_living"]).mean())
        inputs = self.inputs(x)
        shares = np.zeros((len(x), len(self.columns) + 1))
        baseline = math.log(self.scale)
        area = self.columns.index("sqft_living")
        for i, member in enumerate(self.members):
            contributions = member.booster.predict(self.member_inputs(inputs, i), num_threads=1, pred_contrib=True)
            # pred_contrib: one column per input, then the expected value (the same for every row).
            shares[:, self._member_columns[i]] += contributions[:, :-1] / len(self.members)
            baseline += float(contributions[0, -1]) / len(self.members)
            if member.target == "log_price_per_sqft":
                shares[:, area] += (log_area - mean_log_area) / len(self.members)
                baseline += mean_log_area / len(self.members)
        shares[:, -1] = self.month_offset(x)
        return baseline, shares

    # -- files ----------------------------------------------------------------------------------
    def files(self) -> dict[str, bytes]:
        """File name -> contents: every member's LightGBM text model and ``model.json``."""
        files = {f"member-{i}.txt": m.booster.model_to_string().encode() for i, m in enumerate(self.members)}
        spec = {"format": FORMAT, "features": self.features, "first_month": self.first_month,
                "month_offsets": self.month_offsets.tolist(), "scale": self.scale,
                "neighbourhood": self.neighbourhood.to_json(),
                "members": [{"file": f"member-{i}.txt", "target": m.target, "columns": list(m.columns)}
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
        texts = [files[m["file"]].decode("utf-8") for m in spec["members"]]
        members = [Member(target=m["target"], columns=tuple(m["columns"]), booster=lightgbm.Booster(model_str=text),
                          model_text=text) for m, text in zip(spec["members"], texts, strict=True)]
        return cls(features=spec["features"], members=members,
                   neighbourhood=Neighbourhood.from_json(spec["neighbourhood"]),
                   first_month=spec["first_month"], month_offsets=spec["month_offsets"], scale=spec["scale"])

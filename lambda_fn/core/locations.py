"""Do a house's coordinates lie in its zipcode? A typo in lat/long (or in the zipcode) would
otherwise be priced silently as a home somewhere else.

Each model version records, at training, the box around every sold home of each zipcode
(``metadata.json`` ``zipcode_areas``: [lat_min, lat_max, long_min, long_max]). A house must lie
within its zipcode's box widened by ``MARGIN_DEGREES`` (about 3 km), which admits new homes at a
zipcode's edge and refuses coordinates that belong elsewhere in (or outside) King County.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from lambda_fn.core.errors import PredictionInputError

MARGIN_DEGREES = 0.03


class ZipcodeAreas:
    def __init__(self, boxes: Mapping[str, Sequence[float]]) -> None:
        self._boxes = {int(zipcode): tuple(box) for zipcode, box in boxes.items()}

    def check(self, houses: Sequence[Mapping[str, Any]]) -> None:
        """Raise PredictionInputError for the first house whose lat/long lie outside its zipcode."""
        for index, house in enumerate(houses):
            if "lat" not in house or "long" not in house:
                continue  # a model that needs no coordinates (basic's minimal route)
            box = self._boxes.get(int(house["zipcode"]))
            if box is None:
                continue  # the zipcode itself is refused with its own message
            lat_min, lat_max, long_min, long_max = box
            lat, long = house["lat"], house["long"]
            if (lat_min - MARGIN_DEGREES <= lat <= lat_max + MARGIN_DEGREES
                    and long_min - MARGIN_DEGREES <= long <= long_max + MARGIN_DEGREES):
                continue
            raise PredictionInputError(
                "lat", f"lat/long ({lat}, {long}) is not in zipcode {int(house['zipcode']):05d}, whose homes "
                f"lie within lat {lat_min:.4f} to {lat_max:.4f}, long {long_min:.4f} to {long_max:.4f}: "
                "check the coordinates and the zipcode", row=index)

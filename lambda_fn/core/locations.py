"""Do a house's coordinates lie in its zipcode? A typo in lat/long (or in the zipcode) would
otherwise be priced silently as a home somewhere else.

Each model version records, at training, the box around every sold home of each zipcode
(``metadata.json`` ``zipcode_areas``: [lat_min, lat_max, long_min, long_max]). A house that lies
outside its zipcode's box widened by ``MARGIN_DEGREES`` (about 3 km) is still priced, since real
sales do lie there, but its answer carries a warning naming the field, so a typo is seen.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

MARGIN_DEGREES = 0.03


@dataclass(frozen=True)
class InputWarning:
    """Something odd about a house that was priced anyway: its row, the field, the problem."""

    row: int
    field: str
    problem: str


class ZipcodeAreas:
    def __init__(self, boxes: Mapping[str, Sequence[float]]) -> None:
        self._boxes = {int(zipcode): tuple(box) for zipcode, box in boxes.items()}

    def outside(self, houses: Sequence[Mapping[str, Any]]) -> list[InputWarning]:
        """A warning for every house whose lat/long lie outside its zipcode's widened box."""
        warnings = []
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
            warnings.append(InputWarning(index, "lat", (
                f"lat/long ({lat}, {long}) is outside zipcode {int(house['zipcode']):05d}, whose homes lie within "
                f"lat {lat_min:.4f} to {lat_max:.4f}, long {long_min:.4f} to {long_max:.4f}: priced where the "
                "coordinates say; check them and the zipcode")))
        return warnings

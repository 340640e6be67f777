"""A batch's repr stays short: Powertools formats it into a debug message on every request."""

from __future__ import annotations

from lambda_fn.api.schemas import BatchRequest
from tests.helpers import event_body


def test_a_thousand_house_batch_has_a_one_line_repr():
    house = event_body("predict")
    batch = BatchRequest.model_validate({"instances": [house] * 1000})

    assert repr(batch) == "BatchRequest(instances=<1000 houses>)"
    assert len(batch.instances) == 1000 and batch.instances[999].model_dump() == batch.instances[0].model_dump()

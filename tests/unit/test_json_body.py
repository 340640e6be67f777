"""Request bodies parse to exactly what the strict parser gives, or are refused as it refuses them:
duplicate keys at any depth, NaN and Infinity never slip through the faster compiled parser."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lambda_fn.api.json_body import parse_json_body, parse_strictly

REFUSED = "refused"
# Few distinct keys, so that generated objects often repeat one; some need escapes, some do not.
KEYS = st.sampled_from(["a", "b", "bedrooms", "é", "", "x y", 'q"', "back\\slash", "\u2028"])
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(min_value=-(10**30), max_value=10**30),
                    st.floats(allow_nan=False), st.text(max_size=4))
# An object is a list of (key, value) pairs, so that it can hold a key twice, as JSON text can.
DOCUMENTS = st.recursive(SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.lists(st.tuples(KEYS, inner), max_size=5).map(tuple)), max_leaves=20)


def render(document, separator: str) -> str:
    if isinstance(document, tuple):
        return "{" + separator.join(f"{render(key, separator)}: {render(value, separator)}"
                                    for key, value in document) + "}"
    if isinstance(document, list):
        return "[" + separator.join(render(item, separator) for item in document) + "]"
    # Infinity for overflowing floats: JSON has no such literal, and both parsers must refuse it.
    return json.dumps(document, ensure_ascii=False)


def outcome(parse, text: str) -> str:
    try:
        return repr(parse(text))   # repr tells 1 from 1.0 from True, and keeps key order
    except json.JSONDecodeError:
        return REFUSED


@settings(max_examples=1500, derandomize=True, deadline=None)
@given(DOCUMENTS, st.sampled_from([",", ", ", " ,\n "]))
def test_every_body_parses_as_the_strict_parser_parses_it(document, separator):
    text = render(document, separator)

    assert outcome(parse_json_body, text) == outcome(parse_strictly, text)


@pytest.mark.parametrize("text", [
    '{"bedrooms": 4, "bedrooms": 9}',
    '{"instances": [{"a": 1}, {"a": 1, "b": 2, "a": 3}]}',
    '{"a": {"x": "one", "y": "two"}, "a": 1}',         # the dropped value held strings of its own
    '{"a": 1, "b": {"c": [1, {"d": 2, "d": 2}]}}',
    '{"é": 1, "é": 2}',
    # two escaped quotes written back as two more quotes than the text has, as many as the lost key
    '{"a": 1, "a": 2, "q\\u0022\\u0022": 3}',
])
def test_a_key_given_twice_at_any_depth_is_refused(text):
    with pytest.raises(json.JSONDecodeError, match="duplicate key"):
        parse_json_body(text)


@pytest.mark.parametrize(("text", "value"), [
    ('{"a": "say \\"hi\\"", "b": "\\u00e9"}', {"a": 'say "hi"', "b": "é"}),
    ('{"b\\u00e9drooms": 4}', {"bédrooms": 4}),
    ('{"a": 1e400}', {"a": float("inf")}),              # as json.loads reads it; validation refuses it
    ('[1, 1.0, true, null, "x", -0.0]', [1, 1.0, True, None, "x", -0.0]),
])
def test_bodies_with_escapes_or_odd_numbers_parse_to_their_values(text, value):
    assert repr(parse_json_body(text)) == repr(value)

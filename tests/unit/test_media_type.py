"""The event rewrite that lets Powertools see a Content-Type's media type in lowercase."""

from __future__ import annotations

from lambda_fn.api.media_type import normalise_content_type


def test_only_the_media_type_is_lowercased_and_parameters_keep_their_case():
    event = {"headers": {"CONTENT-TYPE": "Multipart/Form-Data; boundary=AbC", "X-Api-Key": "KeY"},
             "multiValueHeaders": {"content-type": ["Multipart/Form-Data; boundary=AbC"], "X-Api-Key": ["KeY"]}}

    fixed = normalise_content_type(event)

    assert fixed["headers"] == {"CONTENT-TYPE": "multipart/form-data; boundary=AbC", "X-Api-Key": "KeY"}
    assert fixed["multiValueHeaders"] == {"content-type": ["multipart/form-data; boundary=AbC"], "X-Api-Key": ["KeY"]}


def test_the_callers_event_is_not_changed():
    event = {"headers": {"Content-Type": "APPLICATION/JSON"}, "body": "{}"}

    fixed = normalise_content_type(event)

    assert event["headers"] == {"Content-Type": "APPLICATION/JSON"}
    assert fixed == {"headers": {"Content-Type": "application/json"}, "body": "{}"}


def test_events_without_headers_pass_through():
    assert normalise_content_type({"headers": None, "multiValueHeaders": None}) == {
        "headers": None, "multiValueHeaders": None}
    assert normalise_content_type({"path": "/v1/health"}) == {"path": "/v1/health"}

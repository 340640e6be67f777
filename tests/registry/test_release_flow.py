"""Publish, promote, serve, promote again, roll back: the served version follows the pointer,
and every request in between is answered, each by the version its response names."""

from __future__ import annotations

import shutil

import pytest

from lambda_fn.registry import serving
from lambda_fn.registry.layout import Pointer
from tests.registry.conftest import BUCKET, MODEL, POINTER_PREFIX, edit_json, run_cli, served


def _answers(versions, count: int = 3) -> set[str]:
    """Several requests; each price must be the one its named version produces."""
    seen = set()
    for _ in range(count):
        version, price = served()
        assert price == versions.prices[version], (version, price)
        seen.add(version)
    return seen


def test_publish_promote_serve_promote_again_and_roll_back(registry_env, versions):
    # Given the image's model serving, and two newer versions published
    assert _answers(versions) == {versions.baked}
    assert run_cli("publish", "--artifacts", str(versions.root), "--version", versions.v1) == 0
    assert run_cli("publish", "--artifacts", str(versions.root)) == 0  # LATEST: v2
    assert _answers(versions) == {versions.baked}  # publishing alone changes nothing served

    # When promoted, then promoted again, then rolled back twice
    assert run_cli("promote", "--version", versions.v1) == 0
    assert _answers(versions) == {versions.v1}
    assert run_cli("promote", "--version", versions.v2) == 0
    assert _answers(versions) == {versions.v2}
    assert registry_env.pointer().previous == (versions.v1, None)
    assert run_cli("rollback") == 0
    assert _answers(versions) == {versions.v1}
    assert run_cli("rollback") == 0

    # Then the service is back on the image's model, and there is nothing further back
    assert _answers(versions) == {versions.baked}
    assert registry_env.pointer() == Pointer(version=None, previous=(), promoted_at=registry_env.pointer().promoted_at)
    assert run_cli("rollback") == 1


def test_a_new_environment_serves_the_promoted_version_from_its_first_request(registry_env, versions):
    run_cli("publish", "--artifacts", str(versions.root), "--version", versions.v1)
    run_cli("promote", "--version", versions.v1)
    serving.get_model_store.cache_clear()  # a cold start after the promotion

    store = serving.get_model_store()

    assert store.get(MODEL).version == versions.v1  # swapped during the cold start, before any request
    assert served() == (versions.v1, versions.prices[versions.v1])


def test_publish_refuses_to_overwrite_a_version(registry_env, versions, capsys):
    run_cli("publish", "--artifacts", str(versions.root), "--version", versions.v1)
    key = f"{MODEL}/{versions.v1}/model.pkl"
    before = registry_env.s3.head_object(Bucket=BUCKET, Key=key)["ETag"]

    assert run_cli("publish", "--artifacts", str(versions.root), "--version", versions.v1) == 1

    assert "already exists: versions are immutable" in capsys.readouterr().err
    assert registry_env.s3.head_object(Bucket=BUCKET, Key=key)["ETag"] == before
    assert len(registry_env.s3.list_object_versions(Bucket=BUCKET, Prefix=key)["Versions"]) == 1


@pytest.mark.parametrize(("version", "problem"), [("20990101T000000Z-missing", "is not published"),
                                                   ("../../etc", "invalid model version")])
def test_promote_refuses_what_is_not_published(registry_env, version, problem, capsys):
    assert run_cli("promote", "--version", version) == 1

    assert problem in capsys.readouterr().err
    assert registry_env.pointer() is None  # nothing written, not even a pointer to the image's model


def test_promote_refuses_a_version_that_fails_verification(registry_env, versions, tmp_path, capsys):
    broken = tmp_path / MODEL / versions.v1
    shutil.copytree(versions.root / MODEL / versions.v1, broken)
    edit_json(broken / "metadata.json", lambda m: m["library_versions"].update({"scikit-learn": "1.3.1"}))
    registry_env.upload(broken)

    assert run_cli("promote", "--version", versions.v1) == 1

    assert "built with scikit-learn 1.3.1" in capsys.readouterr().err
    assert registry_env.pointer() is None


def test_before_the_first_promote_there_is_no_pointer_and_the_image_model_serves(registry_env, versions, capsys):
    # Given a fresh deployment: the stack creates no pointer parameter
    assert registry_env.pointer() is None
    assert _answers(versions, 1) == {versions.baked}

    # Then list and rollback read the missing pointer as "the image's model, no history"
    assert run_cli("list", "--name", MODEL) == 0
    assert f"{MODEL}: active the image's model (promoted -); rollback history: none" in capsys.readouterr().out
    assert run_cli("rollback") == 1
    assert "no previous version to roll back to" in capsys.readouterr().err
    assert registry_env.pointer() is None  # a refused rollback creates nothing


def test_the_first_promote_creates_the_pointer(registry_env, versions):
    run_cli("publish", "--artifacts", str(versions.root), "--version", versions.v1)

    assert run_cli("promote", "--version", versions.v1) == 0

    pointer = registry_env.pointer()
    assert (pointer.version, pointer.previous) == (versions.v1, (None,)) and pointer.promoted_at
    assert registry_env.ssm.get_parameter(Name=f"{POINTER_PREFIX}/{MODEL}")["Parameter"]["Type"] == "String"
    assert _answers(versions, 1) == {versions.v1}
    assert run_cli("rollback") == 0  # back to the image's model, the pointer's state before it existed
    assert registry_env.pointer().version is None
    assert _answers(versions, 1) == {versions.baked}


def test_promote_image_before_any_promote_changes_nothing(registry_env, capsys):
    assert run_cli("promote", "--image") == 0

    assert "is already active" in capsys.readouterr().out
    assert registry_env.pointer() is None


def test_list_shows_versions_the_active_one_and_the_history(registry_env, versions, capsys):
    run_cli("publish", "--artifacts", str(versions.root), "--version", versions.v1)
    run_cli("publish", "--artifacts", str(versions.root), "--version", versions.v2)
    run_cli("promote", "--version", versions.v1)
    run_cli("promote", "--version", versions.v2)
    capsys.readouterr()

    assert run_cli("list") == 0

    out = capsys.readouterr().out
    assert f"{MODEL}: active {versions.v2}" in out
    assert f"rollback history: {versions.v1}, the image's model" in out
    assert f"* {versions.v2}" in out and f"  {versions.v1}" in out


def test_promote_image_returns_to_the_baked_model_and_can_be_rolled_back(registry_env, versions):
    run_cli("publish", "--artifacts", str(versions.root), "--version", versions.v2)
    run_cli("promote", "--version", versions.v2)
    assert _answers(versions, 1) == {versions.v2}

    assert run_cli("promote", "--image") == 0
    assert _answers(versions, 1) == {versions.baked}
    assert run_cli("rollback") == 0

    assert _answers(versions, 1) == {versions.v2}

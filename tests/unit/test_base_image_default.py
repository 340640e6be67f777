"""The container scripts take the AWS base image from the Dockerfile's ``ARG BASE_IMAGE`` default,
so the two cannot drift apart."""

from __future__ import annotations

import pytest

from scripts.container.toolchain import aws_base_image, dockerfile_arg_default


def test_the_scripts_default_base_image_is_the_dockerfiles_aws_lambda_image():
    assert aws_base_image().startswith("public.ecr.aws/lambda/python:")


def test_an_arg_default_is_read_from_its_own_arg_line(tmp_path):
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text('# ARG BASE_IMAGE=in-a-comment\nARG OTHER=x\narg  BASE_IMAGE="example.com/base:1"\n'
                          "FROM ${BASE_IMAGE}\n")

    assert dockerfile_arg_default("BASE_IMAGE", dockerfile) == "example.com/base:1"


def test_a_dockerfile_without_the_arg_default_is_an_error_not_a_guess(tmp_path):
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text("ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\n")

    with pytest.raises(ValueError, match="no ARG BASE_IMAGE=<default>"):
        dockerfile_arg_default("BASE_IMAGE", dockerfile)

# One image for both front doors:
#   AWS Lambda runs the default command (the Powertools handler);
#   the ECS Fargate task runs the same image with the gunicorn command (see infra/).
# BASE_IMAGE defaults to the official AWS Lambda base image. Machines that cannot pull it build a
# stand-in (see README: "Containers") and pass --build-arg BASE_IMAGE=$LAMBDA_BASE_IMAGE.
ARG BASE_IMAGE=public.ecr.aws/lambda/python:3.13
FROM ${BASE_IMAGE}

# Offline builds: WHEELS=.wheels installs from downloaded wheels only (no network in the build).
ARG WHEELS=""
ENV LAMBDA_TASK_ROOT=/var/task \
    PYTHONDONTWRITEBYTECODE=1 \
    OMP_NUM_THREADS=1 \
    MODEL_DIR=/var/task/model/artifacts
WORKDIR /var/task

COPY lambda_fn/requirements.txt /tmp/requirements.txt
COPY ${WHEELS:-lambda_fn}/ /tmp/wheels/
RUN if ls /tmp/wheels/*.whl >/dev/null 2>&1; then FIND="--no-index --find-links /tmp/wheels"; else FIND=""; fi; \
    python3 -m pip install --no-cache-dir --target /var/task $FIND -r /tmp/requirements.txt \
    && rm -rf /tmp/wheels /tmp/requirements.txt

COPY lambda_fn/ /var/task/lambda_fn/
COPY model/artifacts/ /var/task/model/artifacts/

CMD ["lambda_fn.handler.lambda_handler"]

# One image for both front doors:
#   AWS Lambda runs the default command, the Powertools handler (ENTRYPOINT /lambda-entrypoint.sh);
#   the ECS Fargate task runs the same image with the HTTP server, as a non-root user:
#     --entrypoint python3 ... -m lambda_fn.api.serve
#
# BASE_IMAGE defaults to the official AWS Lambda base image: `docker build .` needs nothing else.
# Machines that cannot pull it build a stand-in (README "Containers"; `make image` does it) and
# pass --build-arg BASE_IMAGE=local/lambda-python:3.13. That stand-in has no Lambda runtime
# interface client, so the first stage adds one (pinned, image/) only when the base lacks
# /lambda-entrypoint.sh; on the AWS base nothing of its runtime is replaced.
#
# Dependencies install from .wheels/ when it holds wheels (offline: `make image` downloads them on
# the host), otherwise from PyPI. Only lambda_fn/requirements.txt is installed. Work happens in
# build stages, so neither the wheels nor pip's leftovers reach the image, and the final image has
# one layer of dependencies and one of code + model (a code change ships a few MB). The model is
# copied, trained beforehand (`make artifacts`): the build never trains.
ARG BASE_IMAGE=public.ecr.aws/lambda/python:3.13

FROM ${BASE_IMAGE} AS dependencies
# .wheel[s]: the folder's wheels when it exists, nothing when it does not (a plain clone).
# The libraries' own test suites (numpy, scipy, scikit-learn: about 60 MB) are deleted: the service
# never imports them, and they would take the image over its size budget (docs/containers.md).
# botocore's API models are kept only for the services in image/botocore-services.txt (about 27 MB
# of the others go).
COPY lambda_fn/requirements.txt image/runtime-interface-client.txt image/lambda-entrypoint.sh image/botocore-services.txt .wheel[s] /tmp/build/
RUN set -eu; cd /tmp/build; \
    if ls ./*.whl >/dev/null 2>&1; then from="--no-index --find-links /tmp/build"; else from=""; fi; \
    pip="python3 -m pip install --no-cache-dir --disable-pip-version-check --root-user-action=ignore $from"; \
    $pip --target /opt/image/var/task -r requirements.txt; \
    find /opt/image/var/task -depth -type d -name tests -path '*/var/task/*/*' -exec rm -rf {} +; \
    python3 -c "import pathlib, shutil; keep = {l.strip() for l in open('botocore-services.txt') if l.strip()[:1] not in ('', '#')}; \
        [shutil.rmtree(d) for d in pathlib.Path('/opt/image/var/task/botocore/data').iterdir() if d.is_dir() and d.name not in keep]"; \
    if [ -e /lambda-entrypoint.sh ]; then \
        echo "base image has a Lambda runtime: keeping it"; \
    else \
        echo "base image has no Lambda runtime: adding the runtime interface client"; \
        $pip --target /opt/image/var/runtime -r runtime-interface-client.txt; \
        install -D -m 755 lambda-entrypoint.sh /opt/image/lambda-entrypoint.sh; \
    fi; \
    chmod -R a+rX /opt/image

FROM ${BASE_IMAGE} AS code
COPY lambda_fn/ /var/task/lambda_fn/
COPY model/artifacts/ /var/task/model/artifacts/
# Only the version each model's LATEST names goes on: a developer's older local versions are never
# served from the image (the registry serves any other) and a gbm version is about 10 MB. Python,
# not find, as the AWS base image is minimal.
RUN python3 -c "import pathlib, shutil; [shutil.rmtree(v) for m in pathlib.Path('/var/task/model/artifacts').iterdir() \
        if (m / 'LATEST').is_file() for v in m.iterdir() if v.is_dir() and v.name != (m / 'LATEST').read_text().strip()]"
# Bytecode now, as Lambda's file system is read-only (faster cold starts); everything readable by
# the non-root user ECS runs as, whatever the umask of the checkout.
RUN python3 -m compileall -q /var/task/lambda_fn && chmod -R a+rX /var/task

FROM ${BASE_IMAGE}
# LightGBM's wheel links the system's OpenMP runtime, libgomp.so.1. The stand-in base ships it; the
# AWS base (Amazon Linux 2023 minimal) does not, and its package manager is microdnf, also reachable
# as dnf. That AWS path cannot be built on machines without public.ecr.aws (docs/containers.md).
RUN if ldconfig -p | grep -q 'libgomp\.so\.1'; then echo "base image has libgomp"; \
    else dnf install -y libgomp && dnf clean all && rm -rf /var/cache/dnf; fi
ENV LAMBDA_TASK_ROOT=/var/task \
    MODEL_DIR=/var/task/model/artifacts \
    OMP_NUM_THREADS=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
COPY --from=dependencies /opt/image/ /
COPY --from=code /var/task/ /var/task/
WORKDIR /var/task
ENTRYPOINT ["/lambda-entrypoint.sh"]
CMD ["lambda_fn.api.handler.lambda_handler"]

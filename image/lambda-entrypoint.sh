#!/bin/sh
# /lambda-entrypoint.sh for base images without one (the offline stand-in base). It behaves like
# the AWS base image's own: the handler is the only argument; under the Lambda service, SAM or
# the Runtime Interface Emulator (AWS_LAMBDA_RUNTIME_API set) it runs the runtime interface
# client, which polls that API and calls the handler. The AWS base image keeps its own script.
if [ $# -ne 1 ]; then
  echo "entrypoint requires the handler name to be the first argument" 1>&2
  exit 142
fi
export _HANDLER="$1"
cd "${LAMBDA_TASK_ROOT:-/var/task}" || exit 142
export PYTHONPATH="${LAMBDA_TASK_ROOT:-/var/task}:/var/runtime${PYTHONPATH:+:$PYTHONPATH}"
if [ -z "${AWS_LAMBDA_RUNTIME_API:-}" ]; then
  if [ -x /usr/local/bin/aws-lambda-rie ]; then
    exec /usr/local/bin/aws-lambda-rie python3 -m awslambdaric "$_HANDLER"
  fi
  echo "AWS_LAMBDA_RUNTIME_API is not set: run this image under Lambda, SAM or the Runtime Interface" \
       "Emulator (see README: Containers)" 1>&2
  exit 142
fi
exec python3 -m awslambdaric "$_HANDLER"

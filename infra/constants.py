"""Names, sizes and limits of the deployed price service, in one place.

Deploy-time choices (stage, memory, concurrency, CIDRs, throttling) come from CDK context and
are described by ``infra.settings.DeploymentSettings``; the numbers below are their defaults
and the fixed facts the stacks rely on. Sizes that come from a measurement name the decision
record that holds it (``docs/decisions/``).
"""

from aws_cdk import Duration
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs

SERVICE_NAME = "price-service"  # POWERTOOLS_SERVICE_NAME, resource names, log prefixes
METRICS_NAMESPACE = "SoundRealty"  # POWERTOOLS_METRICS_NAMESPACE
STACK_PREFIX = "PriceService"  # stacks: PriceServiceServerless-, PriceServiceEcs-, PriceServiceModels-<stage>
# Every model baked into the image; each gets a registry pointer (lambda_fn/registry/layout.py).
MODEL_NAMES = ("basic", "gbm")
# The registry's signing key: ECDSA P-256 (ECDSA_SHA_256, lambda_fn/registry/signing.py), verified
# by kms:Verify in the runtimes (docs/decisions/018-signed-model-versions.md).
MODEL_SIGNING_KEY_SPEC = kms.KeySpec.ECC_NIST_P256

# --- The image (one asset, both front doors) -----------------------------------------------------
# The build context is the repository root; CDK stages it through the root .dockerignore (owned
# with the Dockerfile: it keeps lambda_fn/, model/artifacts/, image/ and .wheels/), then drops
# these too. They name only what the Dockerfile never reads, so the asset hash - and so a new
# Lambda version or ECS deployment - never depends on local tooling, tests or build outputs.
# .wheels/ holds downloaded copies of the pinned wheels for offline local builds (the Dockerfile
# installs from it when it holds wheels, from PyPI otherwise); leaving it out of the asset keeps
# one hash for one source on every machine. image/ must stay in: the Dockerfile copies it.
IMAGE_EXCLUDES = (
    ".git", ".venv", "node_modules", "cdk.out", ".aws-sam", ".pytest_cache", ".ruff_cache",
    "tests", "events", "infra", "reports", "build", ".wheels", "**/__pycache__", "**/*.pyc",
)
# The Dockerfile's `ARG BASE_IMAGE` default (a test keeps the two equal). A machine that cannot pull
# it names a stand-in in this environment variable; the asset then passes it as a build argument
# (a different base is a different image, so a different asset hash) and synth warns.
AWS_LAMBDA_BASE_IMAGE = "public.ecr.aws/lambda/python:3.13"
BASE_IMAGE_ENV = "LAMBDA_BASE_IMAGE"
IMAGE_WORKDIR = "/var/task"  # LAMBDA_TASK_ROOT; packages are pip-installed with --target there

# --- Lambda ----------------------------------------------------------------------------------------
ALIAS_NAME = "live"
# 1,769 MB, one full vCPU: the lowest cost x latency of a cold start among 1,024, 1,769 and 3,008 MB
# (docs/decisions/014-lambda-memory-size.md); peak memory is about 140 MiB with gbm loaded.
LAMBDA_MEMORY_MB = 1769
# 10 s: the worst request is a cold start (about 1 s at one vCPU, 1.5 s at 0.58) followed by a
# 1,000-house batch (about 0.1 s); 10 s leaves room for a registry swap and stays far inside API
# Gateway's 29 s integration timeout.
LAMBDA_TIMEOUT = Duration.seconds(10)
LAMBDA_LOG_LEVEL = "INFO"
# Powertools and the model read these; MODEL_DIR is baked into the image.
OMP_NUM_THREADS = "1"  # one vCPU (share) per process: OpenMP threads would only contend
DEFAULT_MODEL = "gbm"
LOG_RETENTION = logs.RetentionDays.ONE_MONTH

# Provisioned concurrency (off by default): target tracking keeps the alias' provisioned
# concurrency at this utilisation, between the context min and max; min == max is a fixed amount.
PROVISIONED_CONCURRENCY_MIN = 1
PROVISIONED_CONCURRENCY_MAX = 5
PROVISIONED_UTILIZATION_TARGET = 0.7

# Canary deployments of a new image or configuration: CodeDeploy shifts 10% of the alias'
# traffic to the new version for 5 minutes, then all of it, and rolls back if an alarm fires.
# Errors: Lambda's Errors metric counts only unhandled failures (bad input answers 4xx and is a
# successful invocation), so a single error in a minute is news.
ALARM_ERRORS_THRESHOLD = 1
ALARM_PERIOD = Duration.minutes(1)
# p99 duration: warm requests measured at 1 ms (single) to 190 ms (batch of 1,000) on a full
# core; at 0.58 vCPU the batch is ~0.4 s. p99 above 1 s for 2 of 3 minutes means a regression.
ALARM_P99_LATENCY_MS = 1000
ALARM_LATENCY_EVALUATION_PERIODS = 3
ALARM_LATENCY_DATAPOINTS = 2

# Pre-traffic hook (constructs/pre_traffic_hook/): before CodeDeploy shifts any traffic, a small
# function sends the new version a valid and an invalid request (decision 017). It calls one AWS API
# at a time and waits, so the smallest memory will do; boto3 is pure Python, so Graviton is cheaper.
PRE_TRAFFIC_HOOK_MEMORY_MB = 256
# One invocation may take the function's whole timeout (a cold start, a registry swap, the request)
# plus this margin for the Invoke call itself; a longer wait is a failed check, not a hang.
PRE_TRAFFIC_INVOKE_MARGIN = Duration.seconds(5)
# The hook's own limit: its invocations at their worst (connect 5 s + the wait above, twice) leave
# over a minute to report to CodeDeploy, which would otherwise wait an hour for a silent hook.
PRE_TRAFFIC_HOOK_TIMEOUT = Duration.minutes(2)

# --- API Gateway -----------------------------------------------------------------------------------
# The routes and their query parameters come from the function's app: constructs/price_api.py.
# Usage plan for the client's key. 50 req/s steady, bursts of 100, 10,000 requests a day:
# the client's agents price a few thousand houses a day, mostly one at a time.
THROTTLE_RATE_LIMIT = 50
THROTTLE_BURST_LIMIT = 100
QUOTA_PER_DAY = 10_000

# --- ECS Fargate -----------------------------------------------------------------------------------
CONTAINER_PORT = 8080
CONTAINER_USER = "1000"  # any non-root uid: /var/task is world-readable, writes go to /tmp only
HEALTH_CHECK_PATH = "/v1/health"
# The HTTP server (uvicorn, lambda_fn/api/serve.py; settings from the environment). The Lambda base
# image's ENTRYPOINT starts the Lambda runtime client, so the task replaces it. Packages live in
# /var/task (pip --target), hence PYTHONPATH.
SERVER_ENTRY_POINT = ("python3", "-m", "lambda_fn.api.serve")
# The ALB keeps idle connections to targets for 60 s; a target that closes one first races the
# ALB's next request on it (a 502), so the server's keep-alive outlasts the ALB's.
SERVER_KEEP_ALIVE_SECONDS = "65"
# 1 vCPU / 2 GiB: 2 workers (WEB_CONCURRENCY), each holding its own models, leaving room for
# more models; a 1,000-house batch takes a worker 72-190 ms of one core.
TASK_CPU = 1024
TASK_MEMORY_MIB = 2048
WEB_CONCURRENCY = "2"
ECS_MIN_TASKS = 2  # one per Availability Zone
ECS_MAX_TASKS = 6
# Scale out at 60% CPU, or at 3,000 requests per task per minute (50 req/s): measured 342 req/s
# on 2 cores is ~170 req/s on 1 vCPU for single predictions; batches cost up to 1,000x more, so
# CPU is the signal for those and the request count is kept at ~30% of single-predict capacity.
ECS_CPU_TARGET_PERCENT = 60
ECS_REQUESTS_PER_TARGET_PER_MINUTE = 3000
SCALE_IN_COOLDOWN = Duration.seconds(300)
SCALE_OUT_COOLDOWN = Duration.seconds(60)
HEALTH_CHECK_INTERVAL = Duration.seconds(15)
HEALTH_CHECK_GRACE = Duration.seconds(60)  # cold start of 2 workers (~2 s each) plus image pull
DEREGISTRATION_DELAY = Duration.seconds(30)  # the server's graceful shutdown timeout
ALB_ACCESS_LOG_EXPIRY = Duration.days(90)
MAX_AZS = 2
NAT_GATEWAYS = 1  # tasks pull the image and ship logs through it; 2 for AZ-independent egress

# Placeholder for the load balancer's allowed client ranges: RFC 5737 documentation range, so a
# deployment answers no one until `-c allowedCidrs=...` names the client's networks.
ALLOWED_CIDRS = ("203.0.113.0/24",)
DEFAULT_STAGE = "dev"
# The region of a synth that gets none from context or the AWS profile (tests, no credentials):
# the client is in Seattle, and the ALB access-log policy needs a concrete region.
FALLBACK_REGION = "us-west-2"

# --- Alarms that page a person (constructs/alarms.py) ----------------------------------------------
# The canary's alarms above roll a deployment back within its 5 minutes; these notify the alarm
# topic about the running service, so they look at longer windows and page on patterns, not blips.
PAGE_PERIOD = Duration.minutes(5)  # long enough that one bad request or cold start wakes no one
PAGE_LATENCY_PERIODS = 3  # latency pages only when all of 15 minutes are slow: a regression, not a spike
# Gateway 5xx: the function's 500s plus Lambda throttles, timeouts and integration failures; 5 in
# 5 minutes is a pattern (a single one is logged, and rolls a canary back).
PAGE_API_5XX = 5
# Gateway latency p99, ms: a cold start (<= 1.5 s) plus a 1,000-house batch (<= 0.4 s) and the
# gateway's overhead stay under 3 s; above it for 15 minutes, clients are waiting on something.
PAGE_API_P99_LATENCY_MS = 3000
# 4xx share of requests: the client's agents send valid requests with a valid key, so a quarter
# refused (403, 404, 422, 429) means a broken client, key or contract, not an agent's typo ...
PAGE_API_4XX_RATE = 0.25
PAGE_API_4XX_MIN_REQUESTS = 20  # ... counted from 20 requests in 5 minutes: 1 of 2 is no rate
# 429s (throttle or daily quota): a few are the usage plan working (the client retries); 10 in
# 5 minutes mean the client is blocked - quota used up or limits too low for its traffic.
PAGE_API_THROTTLED = 10
# Lambda Errors (unhandled failures only): 5 in 5 minutes, the same bar as the gateway's 5xx.
PAGE_LAMBDA_ERRORS = 5
# Lambda Throttles: any is a request refused for capacity - reservedConcurrency or the account's pool is full.
PAGE_LAMBDA_THROTTLES = 1
# Lambda p99 duration, ms: the canary's limit (ALARM_P99_LATENCY_MS), held for 15 minutes.
PAGE_LAMBDA_P99_DURATION_MS = ALARM_P99_LATENCY_MS
# ServerErrors (the service's own 500s, a bug answered): 5 in 5 minutes, like the gateway's 5xx.
PAGE_SERVER_ERRORS = 5
# ModelSwapFailed: never noise - every environment that refused a release keeps the old model until someone looks.
PAGE_MODEL_SWAP_FAILED = 1
# Load balancer 5xx, its own (502/503/504: no healthy task, a task reset or timed out) or the tasks':
# the same bar as the gateway's.
PAGE_ALB_5XX = 5
# Unhealthy tasks: ECS replaces a failing task within a couple of minutes; one unhealthy in every
# minute of 5 is a crash loop or a rollout that cannot turn healthy.
PAGE_UNHEALTHY_HOST_MINUTES = 5

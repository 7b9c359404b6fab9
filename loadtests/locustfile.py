"""Load for tracing pipelines, run with plain Locust:

    locust -f loadtests/locustfile.py --host 127.0.0.1:4317                       # OTLP gRPC, web UI
    locust -f loadtests/locustfile.py --headless -u 4 -r 4 -t 30s --host 127.0.0.1:4317 --tracestack-rate 5MB/s
    TRACESTACK_LOAD_PROTOCOL=otlp-http locust -f loadtests/locustfile.py --host http://127.0.0.1:4318
    TRACESTACK_LOAD_STEPS=1MB/s,2MB/s,4MB/s TRACESTACK_LOAD_STEP_SECONDS=20 \
        locust -f loadtests/locustfile.py --headless --host 127.0.0.1:4317          # stepped rate

Rates: --tracestack-rate / TRACESTACK_LOAD_RATE (5MB/s, 20000spans/s, max) for all users together.
Targets: --host, or TRACESTACK_OTLP_GRPC / TRACESTACK_OTLP_HTTP with several comma-separated targets.
Each user keeps up to TRACESTACK_LOAD_IN_FLIGHT requests in flight (default 32), so a slow answer does not
lower the rate offered. Each request's statistics row is named by protocol and target; refusals are failures
named by status and the receiver's message (e.g. Tempo's RATE_LIMITED: ingestion rate limit ...).
The users, pacing and the stepped shape live in pytest_tracestack/load/; pytest's --tracestack-load runs
the same users.
"""

from pytest_tracestack.load.locustfile import OtlpGrpcUser, OtlpHttpUser, StepShape  # noqa: F401

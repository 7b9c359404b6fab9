"""Load for tracing pipelines — run with plain Locust:

    locust -f loadtests/locustfile.py --host 127.0.0.1:4317                  # OTLP gRPC, web UI
    TRACESTACK_LOAD_RATE=5MB/s locust -f loadtests/locustfile.py --headless -u 4 -t 30s --host 127.0.0.1:4317
    TRACESTACK_LOAD_PROTOCOL=otlp-http locust -f loadtests/locustfile.py --host http://127.0.0.1:4318

The users, the rate pacing and the stepped shape live in pytest_tracestack/load/ (see the variables
documented there); pytest's --tracestack-load runs the same file.
"""

from pytest_tracestack.load.locustfile import OtlpGrpcUser, OtlpHttpUser, StepShape  # noqa: F401

"""Load for tracing pipelines: `locust -f loadtests/locustfile.py --host 127.0.0.1:4317`.

Environment:
  TRACESTACK_LOAD_RATE            target for the whole run, e.g. 5MB/s or 20000spans/s (default 1MB/s)
  TRACESTACK_LOAD_PROTOCOL        otlp-grpc (default) or otlp-http
  TRACESTACK_OTLP_GRPC / _HTTP    targets when --host is not given (host:port / http://host:port)
  TRACESTACK_TRACES_PER_REQUEST   traces per request (default 10)
  TRACESTACK_LOAD_STEPS           "1MB/s,2MB/s,4MB/s" to step the rate (uses StepShape), with
  TRACESTACK_LOAD_STEP_SECONDS    seconds per step (default 20)
Each request is reported to Locust's statistics with its payload size; refusals show as failures named
by status (RESOURCE_EXHAUSTED, UNAVAILABLE, HTTP 429, ...).
"""

import grpc.experimental.gevent as grpc_gevent

grpc_gevent.init_gevent()   # after Locust's gevent patching (locust is imported by the users module)

from pytest_tracestack.load.shapes import StepShape  # noqa: E402,F401
from pytest_tracestack.load.users import OtlpGrpcUser, OtlpHttpUser  # noqa: E402,F401

"""The locustfile pytest's --tracestack-load runs; loadtests/locustfile.py re-exports it for plain Locust.

gRPC under gevent: Locust has monkey-patched the process by the time a locustfile is imported, and
grpc.experimental.gevent.init_gevent() must run after that and before any gRPC object exists (the users
create their channels in on_start).
"""

import grpc.experimental.gevent as grpc_gevent

grpc_gevent.init_gevent()

from pytest_tracestack.load.stepped_shape import StepShape  # noqa: E402,F401
from pytest_tracestack.load.users import OtlpGrpcUser, OtlpHttpUser  # noqa: E402,F401

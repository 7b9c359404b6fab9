"""Locust users pushing pre-encoded OTLP payloads with fresh ids (import only from a locustfile: Locust
patches the process with gevent when it is imported).

Every request is reported to Locust's statistics: its name is ``<protocol> <target>`` so each replica
gets its own row, its length is the payload's size in bytes (what was offered, not the answer), and a
refusal is a failure named by its status and the receiver's message (see outcomes.py).

Users send on their schedule whether or not their earlier requests were answered (an open model), each
with up to ``TRACESTACK_LOAD_IN_FLIGHT`` requests in flight: a closed loop of 4 users at 17 ms per push
could offer at most 235 requests/s, whatever the rate asked. Options (Locust flags or env variables, which
locust_env.py names and reads):

  --tracestack-rate / TRACESTACK_LOAD_RATE                  5MB/s, 20000spans/s or max (default 1MB/s),
                                                            for all users of the run together (workers too)
  --tracestack-traces-per-request / TRACESTACK_TRACES_PER_REQUEST   default 10
  TRACESTACK_LOAD_IN_FLIGHT                                 requests in flight per user at most (default 32)
  TRACESTACK_LOAD_PROTOCOL                                  otlp-grpc (default) or otlp-http
  TRACESTACK_OTLP_GRPC / TRACESTACK_OTLP_HTTP               targets, comma-separated, when --host is not given
  TRACESTACK_LOAD_FAILURES                                  a file to write the final failures by error to (JSON)
"""

from __future__ import annotations

import itertools
import json
import random
import time

import gevent
import gevent.pool
import grpc  # the locustfile made gRPC gevent-aware before importing this; channels are made in on_start
from locust import FastHttpUser, User, constant, events, task
from locust.runners import WorkerRunner
from locust.stats import StatsError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from pytest_tracestack.load.locust_env import RATE_VAR, TARGET_VARS, TRACES_PER_REQUEST_VAR, LocustEnv, split_targets
from pytest_tracestack.load.outcomes import grpc_outcome, http_outcome, partial_outcome
from pytest_tracestack.load.pacing import Pacing, grpc_target, http_url, parse_load_rate
from pytest_tracestack.load.payloads import PayloadSource
from pytest_tracestack.load.workers import share_pacing

SETTINGS = LocustEnv.from_env()  # read once, when Locust imports the locustfile
PROTOCOL = SETTINGS.protocol
EXPORT_METHOD = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
IN_FLIGHT = SETTINGS.in_flight
ANY_STATUS = frozenset(range(100, 600))
DRAIN_S = 4.0  # at stop, how long a user waits for its requests in flight (Locust's --stop-timeout 5)


class LoadState:
    """What every user of this process shares: the payload source and the pacing."""

    payloads: PayloadSource | None = None
    pacing: Pacing | None = None

    @classmethod
    def configure(cls, rate_text: str, traces_per_request: int) -> Pacing:
        cls.payloads = payloads = PayloadSource(traces_per_request=traces_per_request)
        cls.pacing = pacing = Pacing(parse_load_rate(rate_text), payloads.bytes_per_request, payloads.spans_per_request)
        return pacing


@events.init_command_line_parser.add_listener
def _options(parser) -> None:
    parser.add_argument(
        "--tracestack-rate",
        env_var=RATE_VAR,
        default=LocustEnv.rate,
        help="target rate of all users together: 5MB/s, 20000spans/s, or max (no pacing)",
    )
    parser.add_argument(
        "--tracestack-traces-per-request",
        env_var=TRACES_PER_REQUEST_VAR,
        type=int,
        default=int(LocustEnv.traces_per_request),
        help="traces in each export request",
    )


@events.init.add_listener
def _configure(environment, **_) -> None:
    options = environment.parsed_options
    pacing = LoadState.configure(
        getattr(options, "tracestack_rate", None) or SETTINGS.rate,
        int(getattr(options, "tracestack_traces_per_request", None) or SETTINGS.traces_per_request),
    )
    share_pacing(environment, pacing)
    path = SETTINGS.failures
    if path and not isinstance(environment.runner, WorkerRunner):
        events.quit.add_listener(lambda **_: _write_failures(environment, path))


def _write_failures(environment, path: str) -> None:
    """The failures by error once every request in flight was counted: Locust's failures CSV is rewritten
    only every second, so its last version misses the end of the run."""
    errors = [
        {"name": error.name, "error": StatsError.parse_error(error.error), "occurrences": error.occurrences}
        for error in environment.runner.stats.errors.values()
    ]
    with open(path, "w") as handle:
        json.dump(errors, handle)


def _targets(protocol: str, host: str | None) -> list[str]:
    targets = list(SETTINGS.targets(protocol)) or split_targets(host)
    if not targets:
        raise ValueError(
            f"no target: give --host or set {TARGET_VARS[protocol]} (host:port, comma-separated for several)"
        )
    return targets


class _PacedUser(User):
    """Paces itself inside its task (gevent.sleep while Locust sees it running), then hands the request to
    one of its ``IN_FLIGHT`` sending slots and goes on: a send waits only when every slot is taken, i.e.
    when the stack answers slower than the rate asks. At stop, the user waits for its requests in flight
    (on_stop), so a request is never cut off after it was sent and before it was counted."""

    abstract = True
    wait_time = constant(0)
    _numbers = itertools.count()
    _next_send: float | None = None
    _sending: gevent.pool.Pool | None = None

    def on_start(self) -> None:
        self._sending = gevent.pool.Pool(IN_FLIGHT)

    def on_stop(self) -> None:
        if self._sending is not None:
            self._sending.join(timeout=DRAIN_S)

    @task
    def export_traces(self) -> None:
        self.pace()
        assert self._sending is not None and LoadState.payloads is not None  # on_start and the init event set them
        self._sending.spawn(self.send, LoadState.payloads.next())  # waits while every slot is taken

    def send(self, payload: bytes) -> None:
        raise NotImplementedError

    def pace(self) -> None:
        pacing = LoadState.pacing
        assert pacing is not None  # set at Locust's init event, before any user starts
        while not pacing.heard_from_master:
            gevent.sleep(0.05)
        runner = self.environment.runner
        per_user = pacing.per_user(runner.user_count if runner else 1)
        now = time.monotonic()
        if per_user is None:
            gevent.sleep(0)  # a point where a pending stop lands, before the request is sent
            return
        interval = 1.0 / per_user
        if self._next_send is None:  # users start together: spread their sends over one interval
            self._next_send = now + random.uniform(0, interval)
        gevent.sleep(max(0.0, self._next_send - now))
        self._next_send = max(self._next_send, now) + interval

    def pick(self, targets: list[str]) -> str:
        """Users are spread over the targets round robin."""
        return targets[next(self._numbers) % len(targets)]

    def report(self, name: str, started: float, payload: bytes, exception: Exception | None) -> None:
        events.request.fire(
            request_type=PROTOCOL,
            name=name,
            response_time=(time.perf_counter() - started) * 1000,
            response_length=len(payload),
            exception=exception,
            context={},
        )


class OtlpGrpcUser(_PacedUser):
    """OTLP/gRPC TraceService/Export; target from TRACESTACK_OTLP_GRPC or --host (host:port)."""

    abstract = PROTOCOL != "otlp-grpc"

    def on_start(self) -> None:
        super().on_start()
        target = grpc_target(self.pick(_targets("otlp-grpc", self.host)))
        self.request_name = f"otlp-grpc {target}"
        self.channel = grpc.insecure_channel(target)
        self.export = self.channel.unary_unary(
            EXPORT_METHOD, request_serializer=bytes, response_deserializer=ExportTraceServiceResponse.FromString
        )

    def on_stop(self) -> None:
        super().on_stop()
        self.channel.close()

    def send(self, payload: bytes) -> None:
        started = time.perf_counter()
        try:
            exception = partial_outcome(self.export(payload, timeout=10))
        except grpc.RpcError as error:
            exception = grpc_outcome(error.code().name, error.details())
        self.report(self.request_name, started, payload, exception)


class OtlpHttpUser(_PacedUser, FastHttpUser):
    """OTLP/HTTP protobuf POST /v1/traces; target from TRACESTACK_OTLP_HTTP or --host."""

    abstract = PROTOCOL != "otlp-http"
    host = next(iter(SETTINGS.http_targets), None)
    concurrency = IN_FLIGHT  # connections of this user's client: one per request in flight

    def on_start(self) -> None:
        super().on_start()
        self.url = http_url(self.pick(_targets("otlp-http", self.host)))
        self.request_name = f"otlp-http {self.url}"
        # Every status is an answer for http_outcome to judge: geventhttpclient's own error path decodes the
        # body as UTF-8 for its log and dies on a binary one (Tempo's 429 carries a protobuf Status).
        self.client.client.valid_response_codes = ANY_STATUS  # type: ignore[misc]  # this client's, not the class's

    def send(self, payload: bytes) -> None:
        with self.client.post(
            self.url,
            data=payload,  # type: ignore[arg-type]  # hinted str | dict; bytes are sent as they are
            headers={"Content-Type": "application/x-protobuf"},
            name=self.request_name,
            catch_response=True,
        ) as response:
            response.request_meta["request_type"] = PROTOCOL
            response.request_meta["response_length"] = len(payload)
            outcome = http_outcome(
                response.status_code,
                response.content,
                getattr(response, "error", None),
                response.headers.get("Content-Type") if response.headers else None,
            )
            if outcome is None:
                response.success()
            else:
                response.failure(outcome)

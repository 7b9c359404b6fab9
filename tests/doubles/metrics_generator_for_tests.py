"""FAKE TEMPO METRICS-GENERATOR FOR TESTS — NOT TEMPO.

What Tempo 2.10.8's metrics-generator does with the spans it receives, cut down to the two counters the project's
checks query, remote-written the way Tempo writes them (Prometheus remote write: a snappy-compressed protobuf
WriteRequest POSTed every ``metrics_generator.registry.collection_interval``), so the metrics-generator profile can
be driven against a real Prometheus where Tempo cannot run. Read from Tempo v2.10.8's sources
(modules/generator/processor/{spanmetrics,servicegraphs}, modules/generator/registry):

- span-metrics: ``traces_spanmetrics_calls_total{service, span_name, span_kind="SPAN_KIND_...",
  status_code="STATUS_CODE_..."}``, one call per span;
- service-graphs: ``traces_service_graph_request_total{client, server}``, one request per SERVER span whose parent is
  a CLIENT span of the same trace;
- every series carries ``__metrics_gen_instance=<hostname>``, and a new one is first written as 0 at the end of the
  previous minute;
- a processor runs only when the tenant's overrides list it (``overrides.defaults.metrics_generator.processors``,
  or the legacy ``overrides.metrics_generator_processors``), and a span that ended more than
  ``metrics_ingestion_time_range_slack`` (30 s) before it arrived is not counted.

It proves nothing about Tempo: only a real Tempo shows what its generator writes.
"""

from __future__ import annotations

import re
import socket
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable

import cramjam
import httpx
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

from pytest_tracestack.traces.model import SpanKind

KIND = {kind.value: f"SPAN_KIND_{kind.name}" for kind in SpanKind}
STATUS = {0: "STATUS_CODE_UNSET", 1: "STATUS_CODE_OK", 2: "STATUS_CODE_ERROR"}
SLACK_S = 30.0


def _write_request_class():
    """prometheus.WriteRequest (prompb/remote.proto, types.proto: the fields remote write 1.0 sends), in a pool of
    its own."""
    proto = descriptor_pb2.FileDescriptorProto(
        name="remote_write_for_tests.proto", package="prometheus", syntax="proto3"
    )
    f = descriptor_pb2.FieldDescriptorProto
    layout = {
        "Label": [("name", 1, f.TYPE_STRING, ""), ("value", 2, f.TYPE_STRING, "")],
        "Sample": [("value", 1, f.TYPE_DOUBLE, ""), ("timestamp", 2, f.TYPE_INT64, "")],
        "TimeSeries": [
            ("labels", 1, f.TYPE_MESSAGE, ".prometheus.Label"),
            ("samples", 2, f.TYPE_MESSAGE, ".prometheus.Sample"),
        ],
        "WriteRequest": [("timeseries", 1, f.TYPE_MESSAGE, ".prometheus.TimeSeries")],
    }
    for name, fields in layout.items():
        message = proto.message_type.add(name=name)
        for field_name, number, kind, type_name in fields:
            field = message.field.add(name=field_name, number=number, type=kind, label=f.LABEL_OPTIONAL)
            if type_name:
                field.label, field.type_name = f.LABEL_REPEATED, type_name
    pool = descriptor_pool.DescriptorPool()
    pool.Add(proto)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("prometheus.WriteRequest"))


WriteRequest = _write_request_class()


def processors(config: dict) -> set[str]:
    overrides = config.get("overrides") or {}
    listed = ((overrides.get("defaults") or {}).get("metrics_generator") or {}).get("processors")
    return set(listed or overrides.get("metrics_generator_processors") or ())


def seconds(duration: str | int | float | None, default: float) -> float:
    match = re.fullmatch(r"(\d+(?:\.\d+)?)(ms|s|m)", str(duration or ""))
    if not match:
        return default
    return float(match.group(1)) * {"ms": 0.001, "s": 1.0, "m": 60.0}[match.group(2)]


class MetricsGeneratorForTests:
    """FAKE TEMPO METRICS-GENERATOR FOR TESTS — NOT TEMPO. ``arrivals`` gives (span, monotonic arrival time)."""

    def __init__(self, config: dict, arrivals: Callable[[], list]) -> None:
        generator = config.get("metrics_generator") or {}
        self.url = (((generator.get("storage") or {}).get("remote_write") or [{}])[0]).get("url")
        self.interval_s = seconds((generator.get("registry") or {}).get("collection_interval"), 15.0)
        self.processors = processors(config)
        self.arrivals = arrivals
        self.instance = socket.gethostname()
        self.written: set[tuple] = set()
        self._stopped = threading.Event()

    def start(self) -> MetricsGeneratorForTests:
        if self.url:
            threading.Thread(target=self._run, name="fake-metrics-generator", daemon=True).start()
        return self

    def stop(self) -> None:
        self._stopped.set()

    def _run(self) -> None:
        while not self._stopped.wait(self.interval_s):
            series = self.collect()
            if series:
                self._write(series)

    def collect(self) -> Counter:
        """Every series' current value, keyed by its sorted labels."""
        now_wall, now_mono = time.time(), time.monotonic()
        spans = [span for span, at in self.arrivals() if span.end_ns / 1e9 >= now_wall - (now_mono - at) - SLACK_S]
        counts: Counter = Counter()
        if "span-metrics" in self.processors:
            for span in spans:
                counts[
                    self._labels(
                        "traces_spanmetrics_calls_total",
                        service=span.service_name or "",
                        span_name=span.name,
                        span_kind=KIND[span.kind],
                        status_code=STATUS[span.status_code],
                    )
                ] += 1
        if "service-graphs" in self.processors:
            by_id = {(span.trace_id, span.span_id): span for span in spans}
            for span in spans:
                parent = by_id.get((span.trace_id, span.parent_span_id))
                if span.kind == SpanKind.SERVER and parent is not None and parent.kind == SpanKind.CLIENT:
                    counts[
                        self._labels(
                            "traces_service_graph_request_total",
                            client=parent.service_name or "",
                            server=span.service_name or "",
                        )
                    ] += 1
        return counts

    def _labels(self, name: str, **labels: str) -> tuple:
        return tuple(sorted({"__name__": name, "__metrics_gen_instance": self.instance, **labels}.items()))

    def _write(self, series: Counter) -> None:
        now_ms = int(time.time() * 1000)
        request = WriteRequest()
        for labels, value in series.items():
            samples = [(value, now_ms)]
            if labels not in self.written:  # as Tempo: a 0 at the end of the previous minute first
                samples.insert(0, (0.0, now_ms - now_ms % 60_000 - 1))
            timeseries = request.timeseries.add()
            for name, label_value in labels:
                timeseries.labels.add(name=name, value=label_value)
            for sample_value, timestamp in samples:
                timeseries.samples.add(value=sample_value, timestamp=timestamp)
        body = bytes(cramjam.snappy.compress_raw(request.SerializeToString()))
        try:
            response = httpx.post(
                self.url,
                content=body,
                timeout=5,
                headers={
                    "Content-Encoding": "snappy",
                    "Content-Type": "application/x-protobuf",
                    "X-Prometheus-Remote-Write-Version": "0.1.0",
                },
            )
            response.raise_for_status()
        except httpx.HTTPError as error:
            print(
                f'level=warn component=remote url={self.url} msg="Failed to send batch, retrying" err="{error}"',
                file=sys.stderr,
                flush=True,
            )
            return
        self.written.update(series)

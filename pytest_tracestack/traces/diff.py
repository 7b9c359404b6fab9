"""Span-by-span comparison of a sent trace with what came back, and a diff a person reads at a glance.

Spans are matched by span id. Values compare with their types (``200`` is not ``"200"``). What an
ingest protocol cannot carry (Zipkin has no typed tags, Jaeger and Zipkin count microseconds, ...) is
described by a :class:`ProtocolLosses`; both sides are reduced to what the protocol carries before
they are compared, so a loss the protocol forces is not reported and any other change still is.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from pytest_tracestack.traces.model import STATUS_NAMES, Attributes, AttrValue, Event, Link, Span, SpanKind
from pytest_tracestack.traffic.zipkin import zipkin_tag_value

# Also the order in which a span's differences are listed.
DIFFERENCE_KINDS = (
    "missing_span",
    "unexpected_span",
    "broken_parent",
    "changed_name",
    "changed_kind",
    "changed_time",
    "changed_status",
    "missing_attribute",
    "changed_attribute",
    "extra_attribute",
    "changed_resource",
    "changed_events",
    "changed_links",
)


@dataclass(frozen=True)
class Difference:
    kind: str  # one of DIFFERENCE_KINDS
    span_id: str
    span_name: str
    field: str = ""  # attribute key, "start_ns", "parent_span_id", "scope", ...
    expected: Any = None
    actual: Any = None

    def render(self) -> str:
        what = self.kind.replace("_", " ")
        if self.kind in ("missing_span", "unexpected_span"):
            return f"  {what}" + (f" ({self.field})" if self.field else "")
        return f"  {what} {self.field}:\n    - expected {self.expected!r}\n    + actual   {self.actual!r}"


@dataclass(frozen=True)
class ProtocolLosses:
    """What arrives in OTLP when tracestack's sender speaks ``protocol`` to a collector receiver
    (measured with collector 0.129's zipkin and jaeger receivers; Tempo embeds the same receivers)."""

    protocol: str
    clock_resolution_ns: int = 1  # span and event clocks are truncated to this
    min_duration_ns: int = 0  # a zero-length span arrives this long
    attribute_values: str = "typed"  # "typed"; "scalars": arrays/maps as JSON text; "strings": all text
    kinds_as_unspecified: frozenset[int] = frozenset()  # kinds the protocol cannot say arrive UNSPECIFIED
    ok_status: bool = True  # False: OK arrives UNSET
    status_message: bool = True
    resource_keys: tuple[str, ...] | None = None  # only these resource keys survive; None: all
    scope: bool = True  # instrumentation scope name and version
    event_attributes: bool = True
    links: str = "full"  # "full"; "ids": attributes lost; "none": links lost
    added_attributes: tuple[str, ...] = ()  # span attributes the receiver adds (never reported)

    def describe(self) -> str:
        if self == ProtocolLosses(self.protocol):
            return f"{self.protocol} carries every field"
        lost = [
            text
            for flag, text in (
                (self.clock_resolution_ns > 1, f"clocks to {self.clock_resolution_ns} ns"),
                (self.attribute_values == "strings", "attribute types (all text)"),
                (self.attribute_values == "scalars", "arrays and maps (as JSON text)"),
                (
                    bool(self.kinds_as_unspecified),
                    "span kind " + "/".join(SpanKind.name_of(k) for k in sorted(self.kinds_as_unspecified)),
                ),
                (not self.ok_status, "status OK"),
                (not self.status_message, "status messages"),
                (self.resource_keys is not None, f"resource except {', '.join(self.resource_keys or ())}"),
                (not self.scope, "scope"),
                (not self.event_attributes, "event attributes"),
                (self.links == "ids", "link attributes"),
                (self.links == "none", "links"),
            )
            if flag
        ]
        return f"compared as {self.protocol} carries it (lost: {'; '.join(lost)})"


PROTOCOL_LOSSES: dict[str, ProtocolLosses] = {
    "otlp-grpc": ProtocolLosses("otlp-grpc"),
    "otlp-http": ProtocolLosses("otlp-http"),
    "otlp-http-json": ProtocolLosses("otlp-http-json"),
    "zipkin": ProtocolLosses(
        "zipkin",
        clock_resolution_ns=1000,
        min_duration_ns=1000,
        attribute_values="strings",
        kinds_as_unspecified=frozenset({SpanKind.INTERNAL}),
        ok_status=False,
        status_message=False,
        resource_keys=("service.name",),
        scope=False,
        event_attributes=False,
        links="none",
        added_attributes=("error",),
    ),
    "jaeger-thrift-http": ProtocolLosses(
        "jaeger-thrift-http",
        clock_resolution_ns=1000,
        min_duration_ns=1000,
        attribute_values="scalars",
        kinds_as_unspecified=frozenset({SpanKind.INTERNAL}),
        ok_status=False,
        scope=False,
        links="ids",
    ),
}


@dataclass
class TraceDiff:
    differences: list[Difference] = field(default_factory=list)
    ignored: list[Difference] = field(default_factory=list)  # extra attributes ignored by option or protocol
    trace_id: str = ""
    losses: ProtocolLosses | None = None

    @property
    def ok(self) -> bool:
        return not self.differences

    def kinds(self) -> set[str]:
        return {difference.kind for difference in self.differences}

    def render(self) -> str:
        losses = self.losses
        note = f"; {losses.describe()}" if losses is not None and losses != ProtocolLosses(losses.protocol) else ""
        if self.ok:
            lines = [f"trace {self.trace_id} matches{note}"]
        else:
            lines = [f"trace {self.trace_id}: {len(self.differences)} difference(s){note}"]
            lines += _grouped(self.differences)
        if self.ignored:
            shown = ", ".join(f"{d.field} on {d.span_id}" for d in self.ignored[:5])
            more = f" and {len(self.ignored) - 5} more" if len(self.ignored) > 5 else ""
            lines.append(f"ignored {len(self.ignored)} extra attribute(s): {shown}{more}")
        return "\n".join(lines)


def _grouped(differences: list[Difference]) -> list[str]:
    lines: list[str] = []
    current = None
    for difference in differences:
        if (difference.span_id, difference.span_name) != current:
            current = (difference.span_id, difference.span_name)
            lines.append(f"span {difference.span_name!r} ({difference.span_id}):")
        lines.append(difference.render())
    return lines


@dataclass(frozen=True)
class _Options:
    losses: ProtocolLosses
    time_tolerance_ns: int
    ignore_extra: bool
    ignore_attributes: tuple[str, ...]
    ignore_resource_keys: tuple[str, ...]


def compare_traces(
    expected: list[Span],
    actual: list[Span],
    *,
    protocol_losses: ProtocolLosses | str | None = None,
    time_tolerance_ns: int = 0,
    ignore_extra_attributes: bool = False,
    ignore_attributes: Iterable[str] = (),
    ignore_resource_keys: Iterable[str] = (),
) -> TraceDiff:
    """Compare what was sent with what came back.

    ``protocol_losses``: a :class:`ProtocolLosses` or a protocol name from ``PROTOCOL_LOSSES``.
    ``ignore_extra_attributes``: attributes only the actual spans carry are set apart, not reported.
    ``ignore_attributes`` / ``ignore_resource_keys``: fnmatch patterns (``k8s.*``) left out on both sides;
    resource keys only the actual spans carry (a collector's k8s attributes) are never reported.
    """
    options = _Options(
        _losses(protocol_losses),
        time_tolerance_ns,
        ignore_extra_attributes,
        tuple(ignore_attributes),
        tuple(ignore_resource_keys),
    )
    in_time_order = sorted(expected, key=lambda s: (s.start_ns, s.span_id))  # before clocks are truncated
    wanted = [_prepared(span, options) for span in in_time_order]
    got = [_prepared(span, options) for span in actual]
    diff = TraceDiff(trace_id=(expected or actual or [Span("", "", "")])[0].trace_id, losses=options.losses)
    found: dict[str, Span] = {}
    for span in sorted(got, key=lambda s: s.span_id):
        if span.span_id in found:
            diff.differences.append(Difference("unexpected_span", span.span_id, span.name, "another copy"))
        found.setdefault(span.span_id, span)
    for span in wanted:
        other = found.get(span.span_id)
        if other is None:
            diff.differences.append(Difference("missing_span", span.span_id, span.name))
        else:
            _compare_span(span, other, diff, options)
    wanted_ids = {span.span_id for span in wanted}
    diff.differences += [
        Difference("unexpected_span", s.span_id, s.name) for s in found.values() if s.span_id not in wanted_ids
    ]
    diff.differences.sort(key=_order(wanted))
    return diff


def _losses(given: ProtocolLosses | str | None) -> ProtocolLosses:
    if given is None:
        return ProtocolLosses("otlp")
    if isinstance(given, ProtocolLosses):
        return given
    if given not in PROTOCOL_LOSSES:
        raise ValueError(f"no protocol losses known for {given!r}; known: {', '.join(PROTOCOL_LOSSES)}")
    return PROTOCOL_LOSSES[given]


def _order(wanted: list[Span]):
    rank = {span.span_id: index for index, span in enumerate(wanted)}
    return lambda d: (rank.get(d.span_id, len(rank)), d.span_id, DIFFERENCE_KINDS.index(d.kind), d.field)


# --- reducing a span to what the protocol carries ------------------------------------------------


def _prepared(span: Span, options: _Options) -> Span:
    losses = options.losses
    resource = {
        k: v
        for k, v in span.resource.items()
        if not _matches(k, options.ignore_resource_keys) and (losses.resource_keys is None or k in losses.resource_keys)
    }
    attributes = {k: v for k, v in span.attributes.items() if not _matches(k, options.ignore_attributes)}
    start = _truncate(span.start_ns, losses.clock_resolution_ns)
    duration = max(losses.min_duration_ns, _truncate(span.end_ns - span.start_ns, losses.clock_resolution_ns))
    return replace(
        span,
        start_ns=start,
        end_ns=start + duration,
        kind=SpanKind.UNSPECIFIED if span.kind in losses.kinds_as_unspecified else span.kind,
        status_code=0 if span.status_code == 1 and not losses.ok_status else span.status_code,
        status_message=span.status_message if losses.status_message else "",
        attributes=_carried(attributes, losses),
        resource=_carried(resource, losses),
        scope_name=span.scope_name if losses.scope else "",
        scope_version=span.scope_version if losses.scope else "",
        events=tuple(_event(event, losses) for event in span.events),
        links=() if losses.links == "none" else tuple(_link(link, losses) for link in span.links),
    )


def _truncate(value: int, resolution: int) -> int:
    return value // resolution * resolution


def _matches(key: str, patterns: tuple[str, ...]) -> bool:
    return any(fnmatch.fnmatchcase(key, pattern) for pattern in patterns)


def _carried(attributes: Attributes, losses: ProtocolLosses) -> Attributes:
    if losses.attribute_values == "strings":
        return {k: v if isinstance(v, str) else zipkin_tag_value(v) for k, v in attributes.items()}
    if losses.attribute_values == "scalars":
        return {k: zipkin_tag_value(v) if isinstance(v, (tuple, list, dict)) else v for k, v in attributes.items()}
    return attributes


def _event(event: Event, losses: ProtocolLosses) -> Event:
    attributes = _carried(event.attributes, losses) if losses.event_attributes else {}
    return Event(event.name, _truncate(event.time_ns, losses.clock_resolution_ns), attributes)


def _link(link: Link, losses: ProtocolLosses) -> Link:
    return Link(link.trace_id, link.span_id, _carried(link.attributes, losses) if losses.links == "full" else {})


# --- comparing one span --------------------------------------------------------------------------


def _compare_span(expected: Span, actual: Span, diff: TraceDiff, options: _Options) -> None:
    def add(kind: str, name: str, want: Any, got: Any) -> None:
        diff.differences.append(Difference(kind, expected.span_id, expected.name, name, want, got))

    if expected.trace_id != actual.trace_id:
        add("broken_parent", "trace_id", expected.trace_id, actual.trace_id)
    if expected.parent_span_id != actual.parent_span_id:
        add("broken_parent", "parent_span_id", expected.parent_span_id or "(root)", actual.parent_span_id or "(root)")
    if expected.name != actual.name:
        add("changed_name", "name", expected.name, actual.name)
    if expected.kind != actual.kind:
        add("changed_kind", "kind", SpanKind.name_of(expected.kind), SpanKind.name_of(actual.kind))
    for clock in ("start_ns", "end_ns"):
        if abs(getattr(expected, clock) - getattr(actual, clock)) > options.time_tolerance_ns:
            add("changed_time", clock, getattr(expected, clock), getattr(actual, clock))
    if (expected.status_code, expected.status_message) != (actual.status_code, actual.status_message):
        add("changed_status", "status", _status(expected), _status(actual))
    _compare_attributes(expected, actual, diff, options)
    got_resource = {k: v for k, v in actual.resource.items() if k in expected.resource}
    if not same_value(expected.resource, got_resource):
        add("changed_resource", "resource", expected.resource, got_resource)
    if (expected.scope_name, expected.scope_version) != (actual.scope_name, actual.scope_version):
        add(
            "changed_resource",
            "scope",
            f"{expected.scope_name} {expected.scope_version}".strip(),
            f"{actual.scope_name} {actual.scope_version}".strip(),
        )
    if not same_value(_events(expected), _events(actual)):
        add("changed_events", "events", _events(expected), _events(actual))
    if not same_value(_links(expected), _links(actual)):
        add("changed_links", "links", _links(expected), _links(actual))


def _status(span: Span) -> str:
    return f"{STATUS_NAMES.get(span.status_code, span.status_code)} {span.status_message}".strip()


def _events(span: Span) -> list[tuple]:
    return [(event.name, event.time_ns, event.attributes) for event in span.events]


def _links(span: Span) -> list[tuple]:
    return [(link.trace_id, link.span_id, link.attributes) for link in span.links]


def _compare_attributes(expected: Span, actual: Span, diff: TraceDiff, options: _Options) -> None:
    def difference(kind: str, key: str, want: AttrValue, got: AttrValue) -> Difference:
        return Difference(kind, expected.span_id, expected.name, key, want, got)

    for key, value in expected.attributes.items():
        if key not in actual.attributes:
            diff.differences.append(difference("missing_attribute", key, value, None))
        elif not same_value(value, actual.attributes[key]):
            diff.differences.append(difference("changed_attribute", key, value, actual.attributes[key]))
    for key in sorted(set(actual.attributes) - set(expected.attributes)):
        extra = difference("extra_attribute", key, None, actual.attributes[key])
        ignored = options.ignore_extra or key in options.losses.added_attributes
        (diff.ignored if ignored else diff.differences).append(extra)


def same_value(a: Any, b: Any) -> bool:
    """Equal with the same types all the way down: 200 is not "200", True is not 1, (1,) is not (1.0,)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, (tuple, list)):
        return len(a) == len(b) and all(same_value(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same_value(a[k], b[k]) for k in a)
    return a == b

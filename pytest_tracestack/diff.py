"""Span-by-span comparison of a sent trace with what came back, and a diff a person reads at a glance."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .model import SPAN_KIND_NAMES, STATUS_NAMES, Span


@dataclass(frozen=True)
class Difference:
    kind: str          # missing_span, unexpected_span, changed_attribute, missing_attribute, extra_attribute,
    #                    changed_name, changed_kind, broken_parent, changed_time, changed_resource,
    #                    changed_status, changed_events, changed_links
    span_id: str
    span_name: str
    field: str = ""
    expected: Any = None
    actual: Any = None

    def render(self) -> str:
        what = self.kind.replace("_", " ")
        if self.kind in ("missing_span", "unexpected_span"):
            return f"  {what}"
        return f"  {what} {self.field}:\n    - expected {self.expected!r}\n    + actual   {self.actual!r}"


@dataclass
class TraceDiff:
    differences: list[Difference] = field(default_factory=list)
    ignored_extra: list[Difference] = field(default_factory=list)   # extra attributes a backend added

    @property
    def ok(self) -> bool:
        return not self.differences

    def kinds(self) -> set[str]:
        return {difference.kind for difference in self.differences}

    def render(self) -> str:
        if self.ok:
            return "traces match"
        lines: list[str] = [f"{len(self.differences)} difference(s):"]
        current = None
        for difference in self.differences:
            if (difference.span_id, difference.span_name) != current:
                current = (difference.span_id, difference.span_name)
                lines.append(f"span {difference.span_name!r} ({difference.span_id}):")
            lines.append(difference.render())
        return "\n".join(lines)


def compare_traces(expected: list[Span], actual: list[Span], *, time_tolerance_ns: int = 0,
                   ignore_extra_attributes: bool = True, ignore_resource_keys: tuple[str, ...] = ()) -> TraceDiff:
    """Compare by span id; extra attributes added on the way (by a collector or Tempo) are kept apart."""
    diff = TraceDiff()
    actual_by_id = {span.span_id: span for span in actual}
    expected_ids = {span.span_id for span in expected}
    for span in sorted(expected, key=lambda s: (s.start_ns, s.span_id)):
        other = actual_by_id.get(span.span_id)
        if other is None:
            diff.differences.append(Difference("missing_span", span.span_id, span.name))
            continue
        _compare_span(span, other, diff, time_tolerance_ns, ignore_extra_attributes, ignore_resource_keys,
                      expected_ids)
    for span in sorted(actual, key=lambda s: s.span_id):
        if span.span_id not in expected_ids:
            diff.differences.append(Difference("unexpected_span", span.span_id, span.name))
    return diff


def _compare_span(expected: Span, actual: Span, diff: TraceDiff, tolerance: int, ignore_extra: bool,
                  ignore_resource: tuple[str, ...], expected_ids: set[str]) -> None:
    add = lambda kind, name, want, got: diff.differences.append(  # noqa: E731
        Difference(kind, expected.span_id, expected.name, name, want, got))
    if expected.trace_id != actual.trace_id:
        add("broken_parent", "trace_id", expected.trace_id, actual.trace_id)
    if expected.parent_span_id != actual.parent_span_id:
        add("broken_parent", "parent_span_id", expected.parent_span_id or "(root)", actual.parent_span_id or "(root)")
    if expected.name != actual.name:
        add("changed_name", "name", expected.name, actual.name)
    if expected.kind != actual.kind:
        add("changed_kind", "kind", SPAN_KIND_NAMES.get(expected.kind), SPAN_KIND_NAMES.get(actual.kind))
    for clock in ("start_ns", "end_ns"):
        if abs(getattr(expected, clock) - getattr(actual, clock)) > tolerance:
            add("changed_time", clock, getattr(expected, clock), getattr(actual, clock))
    if (expected.status_code, expected.status_message) != (actual.status_code, actual.status_message):
        add("changed_status", "status", f"{STATUS_NAMES.get(expected.status_code)} {expected.status_message}".strip(),
            f"{STATUS_NAMES.get(actual.status_code)} {actual.status_message}".strip())
    _compare_attributes(expected, actual, diff, ignore_extra)
    want_resource = {k: v for k, v in expected.resource.items() if k not in ignore_resource}
    got_resource = {k: v for k, v in actual.resource.items() if k in want_resource}
    if want_resource != got_resource:
        add("changed_resource", "resource", want_resource, got_resource)
    if expected.events != actual.events:
        add("changed_events", "events", list(expected.events), list(actual.events))
    if expected.links != actual.links:
        add("changed_links", "links", list(expected.links), list(actual.links))


def _compare_attributes(expected: Span, actual: Span, diff: TraceDiff, ignore_extra: bool) -> None:
    for key, value in sorted(expected.attributes.items()):
        if key not in actual.attributes:
            diff.differences.append(Difference("missing_attribute", expected.span_id, expected.name, key, value, None))
        elif not _same_value(value, actual.attributes[key]):
            diff.differences.append(Difference("changed_attribute", expected.span_id, expected.name, key, value,
                                               actual.attributes[key]))
    for key in sorted(set(actual.attributes) - set(expected.attributes)):
        extra = Difference("extra_attribute", expected.span_id, expected.name, key, None, actual.attributes[key])
        (diff.ignored_extra if ignore_extra else diff.differences).append(extra)


def _same_value(a: Any, b: Any) -> bool:
    """Equal with the same type: 200 is not "200", True is not 1."""
    return type(a) is type(b) and a == b

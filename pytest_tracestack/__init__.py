"""pytest-tracestack: bring up tracing topologies, prove traces flow, measure capacity."""

__version__ = "0.1.0"

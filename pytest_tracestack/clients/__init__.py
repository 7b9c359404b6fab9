"""Clients of real components: Tempo's query API, Prometheus text, the capture sink."""

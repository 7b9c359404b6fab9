"""Kubernetes support for the kind and cluster runtimes: commands, tools, install plans, validation."""

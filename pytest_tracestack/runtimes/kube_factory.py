"""Builds the kind or cluster runtime from pytest's settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from ..settings import parse_seconds, read_setting


def kube_runtime_from_config(name: str, config: pytest.Config):
    from ..kube.settings import KubeSettings
    from .kind import make_kube_runtime

    def value(option: str):
        return read_setting(config, option).value

    images = [image.strip() for image in (value("load-images") or "").split(",") if image.strip()]
    report = value("report")
    settings = KubeSettings.from_options(
        cluster_name=value("kind-cluster"), node_image=value("kind-image"), keep=bool(value("keep")),
        kubeconfig=value("kubeconfig"), context=value("kube-context"), namespace=value("namespace"),
        images_to_load=images, k8s_version=value("k8s-version"),
        rollout_timeout_s=_rollout_timeout(config),
        report_dir=Path(report) if report else None,
        allow_download=not value("no-download"),
        charts=value("charts"),
    )
    return make_kube_runtime(name, settings)


def _rollout_timeout(config: pytest.Config) -> float:
    """Pulling images makes cluster rollouts slower than local starts: 300 s unless the user set a value."""
    setting = read_setting(config, "ready-timeout")
    return 300.0 if setting.source == "default" else parse_seconds(setting, "--tracestack-ready-timeout")

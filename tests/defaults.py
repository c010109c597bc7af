"""Objects whose settings-backed values tests take from `Settings` defaults, not literals."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from memora_cdn.core.render import RenderOptions
from memora_cdn.factories import make_schedule, publish_options, render_options, retry_policy
from memora_cdn.publish import PublishOptions
from memora_cdn.queue.base import RetryPolicy
from memora_cdn.settings import Settings
from memora_cdn.sync.worker import Schedule


def default_settings() -> Settings:
    """The settings' defaults, whatever the environment says."""
    return Settings.model_construct()


def default_retry_policy(**changes: Any) -> RetryPolicy:
    """The retry policy of the default settings, with `changes`."""
    return replace(retry_policy(default_settings()), **changes)


def default_schedule(**changes: Any) -> Schedule:
    """The worker schedule of the default settings, with `changes`."""
    return replace(make_schedule(default_settings()), **changes)


def default_render_options(**changes: Any) -> RenderOptions:
    """The render options of the default settings, with `changes`."""
    return replace(render_options(default_settings()), **changes)


def default_publish_options(**changes: Any) -> PublishOptions:
    """The publish options of the default settings, with `changes`."""
    return replace(publish_options(default_settings()), **changes)

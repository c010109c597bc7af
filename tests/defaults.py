"""Objects whose settings-backed values tests take from `Settings` defaults, not literals."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from memora_cdn.app import make_schedule, retry_policy
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

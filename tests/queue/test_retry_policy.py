"""The retry arithmetic every queue backend records: `RetryPolicy.after`."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from defaults import default_retry_policy
from memora_cdn.queue.base import Failure, RetryPolicy
from memora_cdn.settings import Settings

T0 = datetime(2026, 11, 1, 12, 0, 0)


@pytest.mark.parametrize(
    ("attempts", "expected"),
    [
        (0, Failure(1, T0 + timedelta(seconds=30))),
        (1, Failure(2, T0 + timedelta(seconds=60))),
        (2, Failure(3, T0 + timedelta(seconds=120))),
        (3, Failure(4, None)),
        (7, Failure(8, None)),
    ],
)
def test_a_failure_is_retried_after_base_times_two_to_the_n_then_dead(
    attempts: int, expected: Failure
) -> None:
    failure = RetryPolicy(max_retries=3, base_seconds=30).after(attempts, T0)
    assert failure == expected
    assert failure.dead is (expected.retry_at is None)


def test_with_no_retries_the_first_failure_is_dead() -> None:
    assert RetryPolicy(max_retries=0, base_seconds=30).after(0, T0) == Failure(1, None)


def test_the_tests_default_policy_is_the_settings_defaults() -> None:
    fields = Settings.model_fields
    policy = default_retry_policy()
    assert policy.max_retries == fields["max_retries"].default
    assert policy.base_seconds == fields["retry_base_seconds"].default
    assert default_retry_policy(max_retries=0).max_retries == 0

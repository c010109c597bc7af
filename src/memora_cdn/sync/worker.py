"""`memora-cdn worker`: the scheduler (SPEC §5): batches on a schedule, scans, retries.

Design notes: docs/decisions/builds.md
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from memora_cdn.core.model import SyncStatus, Trigger
from memora_cdn.publish import Clock
from memora_cdn.queue.base import PlanQueue
from memora_cdn.sync.processor import BatchProcessor, BatchReport, BuildOutcome, maintain

log = logging.getLogger(__name__)

_ERROR_PAUSE = 5.0


@dataclass(frozen=True, slots=True)
class Schedule:
    """When the worker batches and scans (built from the settings by the app)."""

    interval_seconds: float
    threshold: int
    """Pending plans that start a batch at once."""
    scan_interval_seconds: float | None
    """None: do not scan (events arrive by notify, the hook or the webhook only)."""
    tick_seconds: float = 1.0
    """How often the worker looks at the queue (not a setting)."""


class Worker:
    """The scheduler loop: every tick, housekeeping, then the batch that is due (if any)."""

    def __init__(
        self,
        processor: BatchProcessor,
        queue: PlanQueue,
        schedule: Schedule,
        clock: Clock,
        poll: Callable[[], object] | None = None,
        on_batch: Callable[[BatchReport], None] | None = None,
        dispatch: Callable[[Trigger, bool], object] | None = None,
        housekeeping: Callable[[], object] | None = None,
    ) -> None:
        self.processor = processor
        self.queue = queue
        self.schedule = schedule
        self.clock = clock
        self.poll = poll
        self.on_batch = on_batch
        self.dispatch = dispatch
        """With RQ: hand due plans to RQ workers instead of building them here."""
        self.housekeeping = housekeeping
        """Run every tick before the batch (re-queuing plans whose signed URLs near their
        expiry); it maintains the queue (`processor.maintain`), so the tick does not."""

    @property
    def stop(self) -> threading.Event:
        """Set to end the loop after the plan in hand."""
        return self.processor.stop

    def run(self) -> None:
        """Tick until a stop is requested; a failed tick or scan is logged, never fatal."""
        started = self.clock()
        next_batch = started + self.schedule.interval_seconds
        next_scan = started
        while not self.stop.is_set():
            now = self.clock()
            if self.poll is not None and self.schedule.scan_interval_seconds and now >= next_scan:
                next_scan = now + self.schedule.scan_interval_seconds
                try:
                    self.poll()
                except Exception:
                    log.exception(
                        "scan failed; trying again in %ss", self.schedule.scan_interval_seconds
                    )
            pause = self.schedule.tick_seconds
            try:
                self.tick(now >= next_batch)
            except Exception:
                # A database or store that failed outside a build (the build's own failures
                # are retried by the queue): keep the worker alive and look again shortly.
                log.exception("worker tick failed; trying again in %ss", _ERROR_PAUSE)
                pause = max(pause, _ERROR_PAUSE)
            if now >= next_batch:
                next_batch = now + self.schedule.interval_seconds
            self.stop.wait(pause)

    def tick(self, interval_due: bool) -> BatchReport | None:
        """One look at the queue: the batch (if any) that should run now."""
        if self.housekeeping is not None:
            self.housekeeping()
        else:
            maintain(self.queue, self.processor.state, self.processor.now())
        if self.queue.pending_count() >= self.schedule.threshold:
            trigger, include_pending = Trigger.THRESHOLD, True
        elif interval_due:
            trigger, include_pending = Trigger.SCHEDULER, True
        else:
            trigger, include_pending = Trigger.SCHEDULER, False
        if self.dispatch is not None:
            self.dispatch(trigger, include_pending)
            return None
        report = self.processor.run(trigger, include_pending=include_pending, maintained=True)
        for outcome in report.failed:
            _log_failure(outcome)
        if report.outcomes and self.on_batch is not None:
            self.on_batch(report)
        return report if report.outcomes else None


def _log_failure(outcome: BuildOutcome) -> None:
    if outcome.unexpected:
        log.error("build of plan %r failed unexpectedly", outcome.plan, exc_info=outcome.exception)
    if outcome.status is SyncStatus.DEAD_LETTER:
        log.error("plan %r dead-lettered: %s", outcome.plan, outcome.error)
    else:
        log.warning(
            "plan %r failed (%s); retry at %s", outcome.plan, outcome.error, outcome.retry_at
        )

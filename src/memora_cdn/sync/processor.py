"""The batch processor: claims due plans one at a time and builds each under its lease.

Design notes: docs/decisions/builds.md
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime

from memora_cdn.core.model import SyncStatus, Trigger
from memora_cdn.errors import Interrupted, MemoraCdnError
from memora_cdn.publish import Clock, Publisher, PublishResult
from memora_cdn.queue.base import Claim, Maintenance, PlanQueue, RetryPolicy
from memora_cdn.state.repo import StateRepository
from memora_cdn.sync.forked import BuildProcesses, ForkedBuildError, Reply

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class BuildOutcome:
    """How the build of one plan ended."""

    plan: str
    status: SyncStatus
    result: PublishResult | None = None
    error: str | None = None
    retry_at: datetime | None = None
    exit_code: int = 0
    """The failure's exit status (errors.py); 1 for an unexpected error."""
    exception: Exception | None = field(default=None, repr=False, compare=False)
    """The error that failed the build (for the worker's log of unexpected ones)."""

    @property
    def unexpected(self) -> bool:
        """A failure memora-cdn does not explain (a bug): logged with its traceback."""
        if isinstance(self.exception, ForkedBuildError):
            return not self.exception.expected
        return self.exception is not None and not isinstance(self.exception, MemoraCdnError)


@dataclass(slots=True)
class BatchReport:
    """The outcomes of one batch."""

    trigger: Trigger
    outcomes: list[BuildOutcome] = field(default_factory=list)

    @property
    def succeeded(self) -> list[BuildOutcome]:
        """The plans built and published."""
        return [o for o in self.outcomes if o.status is SyncStatus.SUCCESS]

    @property
    def failed(self) -> list[BuildOutcome]:
        """The plans that failed (retried later, or dead-lettered)."""
        return [o for o in self.outcomes if o.status is not SyncStatus.SUCCESS]


def maintain(queue: PlanQueue, state: StateRepository, now: datetime) -> Maintenance:
    """The queue's upkeep (`PlanQueue.maintain`); plans drained back from the SQL fallback
    get a `Queued` sync log row triggered by "Fallback Recovery"."""
    done = queue.maintain(now)
    for plan in done.recovered:
        state.log_queued(plan, Trigger.FALLBACK_RECOVERY, now, is_fallback=True)
    return done


class BatchProcessor:
    """Claims due plans and builds them, one at a time or in forked build processes."""

    def __init__(
        self,
        queue: PlanQueue,
        publisher: Publisher,
        state: StateRepository,
        *,
        policy: RetryPolicy,
        lease_seconds: float,
        worker_id: str,
        clock: Clock,
        stop: threading.Event | None = None,
        processes: int = 1,
        fork_publisher: Callable[[], Publisher] | None = None,
    ) -> None:
        """`processes` > 1 with `fork_publisher`: when several plans are due, build that
        many at once in forked processes, each with the publisher `fork_publisher` makes
        there (see `sync/forked.py`)."""
        self.queue = queue
        self.publisher = publisher
        self.state = state
        self.policy = policy
        self.lease_seconds = lease_seconds
        self.worker_id = worker_id
        self.clock = clock
        self.stop = stop or threading.Event()
        self.processes = processes
        self.fork_publisher = fork_publisher

    def now(self) -> datetime:
        """The clock's time as a naive UTC datetime."""
        return datetime.fromtimestamp(self.clock(), UTC).replace(tzinfo=None)

    def run(
        self,
        trigger: Trigger,
        *,
        include_pending: bool = True,
        plans: Collection[str] | None = None,
        on_outcome: Callable[[BuildOutcome], None] | None = None,
        maintained: bool = False,
    ) -> BatchReport:
        """Build due plans until none is left (or a stop is requested); the queue is
        maintained first, unless the caller just did (`maintained`)."""
        report = BatchReport(trigger)
        if not maintained:
            maintain(self.queue, self.state, self.now())
        if self.fork_publisher is not None and self.processes > 1:
            due = len(plans) if plans is not None else self.queue.stats(self.now()).pending
            if min(self.processes, due) > 1:
                with BuildProcesses(min(self.processes, due), self.fork_publisher) as processes:
                    self._run_forked(processes, report, trigger, include_pending, plans, on_outcome)
                return report
        while not self.stop.is_set():
            claims = self._claim_one(include_pending, plans)
            if not claims:
                break
            outcome = self.build(claims[0], trigger)
            report.outcomes.append(outcome)
            if on_outcome is not None:
                on_outcome(outcome)
        return report

    def _claim_one(self, include_pending: bool, plans: Collection[str] | None) -> list[Claim]:
        """Claim the next due plan (of `plans`, when given) under a lease of our own."""
        return self.queue.claim(
            self.worker_id,
            self.now(),
            lease_seconds=self.lease_seconds,
            include_pending=include_pending,
            plans=plans,
            limit=1,
        )

    def _run_forked(
        self,
        processes: BuildProcesses,
        report: BatchReport,
        trigger: Trigger,
        include_pending: bool,
        plans: Collection[str] | None,
        on_outcome: Callable[[BuildOutcome], None] | None,
    ) -> None:
        """`run` with up to one build per process at a time: claims, leases and their
        renewal, and the queue's outcome of each build stay here, as in `build`."""
        in_flight: dict[str, tuple[Claim, int, _Heartbeat]] = {}
        starting: Claim | None = None
        """Claimed, not yet handed to a process: an interrupt must still release it."""
        starting_log: int | None = None
        try:
            while True:
                while processes.idle and not self.stop.is_set():
                    claims = self._claim_one(include_pending, plans)
                    if not claims:
                        break
                    starting, starting_log = claims[0], None
                    starting_log = log_id = self.state.begin_attempt_failing_lost(
                        starting.plan,
                        trigger,
                        self.now(),
                        retry_count=starting.attempts,
                        is_fallback=starting.is_fallback,
                    )
                    heartbeat = _Heartbeat(self, starting).__enter__()
                    in_flight[starting.plan] = (starting, log_id, heartbeat)
                    starting = None
                    processes.submit(claims[0].plan, log_id)
                if not processes.busy:
                    return
                reply = processes.next_reply()
                claim, log_id, heartbeat = in_flight.pop(reply.plan)
                heartbeat.__exit__()
                outcome = self._outcome(claim, log_id, reply)
                report.outcomes.append(outcome)
                if on_outcome is not None:
                    on_outcome(outcome)
        except KeyboardInterrupt:
            processes.terminate()
            if starting is not None:
                self._interrupted(starting, starting_log)
            for claim, log_id, heartbeat in in_flight.values():
                heartbeat.__exit__()
                self._interrupted(claim, log_id)
            in_hand = sorted([*in_flight, *([starting.plan] if starting else [])])
            raise Interrupted(*in_hand) from None

    def _outcome(self, claim: Claim, log_id: int, reply: Reply) -> BuildOutcome:
        if reply.error is not None:
            return self._failed(claim, log_id, reply.error)
        self.queue.complete(claim, self.now())
        return BuildOutcome(claim.plan, SyncStatus.SUCCESS, result=reply.result)

    def build(self, claim: Claim, trigger: Trigger) -> BuildOutcome:
        """Build one claimed plan under its lease; the queue records the outcome."""
        try:
            log_id = self.state.begin_attempt_failing_lost(
                claim.plan,
                trigger,
                self.now(),
                retry_count=claim.attempts,
                is_fallback=claim.is_fallback,
            )
        except KeyboardInterrupt:
            self._interrupted(claim, None)
            raise Interrupted(claim.plan) from None
        try:
            with _Heartbeat(self, claim):
                result = self.publisher.publish(claim.plan, log_id=log_id)
        except KeyboardInterrupt:
            self._interrupted(claim, log_id)
            raise Interrupted(claim.plan) from None
        except Exception as error:
            return self._failed(claim, log_id, error)
        self.queue.complete(claim, self.now())
        return BuildOutcome(claim.plan, SyncStatus.SUCCESS, result=result)

    def _interrupted(self, claim: Claim, log_id: int | None) -> None:
        """Back to the queue with its lease dropped, so the next run builds it at once; a
        second interrupt while this runs must not leave the lease behind either."""
        with _signals_deferred():
            now = self.now()
            self.queue.release(claim, now)
            if log_id is not None:
                self.state.log_finish(log_id, SyncStatus.FAILED, now, error="interrupted")

    def _failed(self, claim: Claim, log_id: int, error: Exception) -> BuildOutcome:
        if isinstance(error, ForkedBuildError):
            message, code = error.message, error.exit_code
        elif isinstance(error, MemoraCdnError):
            message, code = str(error), error.exit_code
        else:
            message, code = f"{type(error).__name__}: {error}", 1
        now = self.now()
        failure = self.queue.fail(claim, message, now, self.policy)
        if failure.dead:
            self.state.set_status(log_id, SyncStatus.DEAD_LETTER)
            return BuildOutcome(
                claim.plan, SyncStatus.DEAD_LETTER, error=message, exit_code=code, exception=error
            )
        assert failure.retry_at is not None
        self.state.log_queued(
            claim.plan,
            Trigger.SCHEDULER,
            failure.retry_at,
            retry_count=failure.attempts,
            is_fallback=claim.is_fallback,
        )
        return BuildOutcome(
            claim.plan,
            SyncStatus.FAILED,
            error=message,
            retry_at=failure.retry_at,
            exit_code=code,
            exception=error,
        )


@contextmanager
def _signals_deferred() -> Iterator[None]:
    """Ctrl-C and SIGTERM wait until the block is done (main thread only; elsewhere no
    handler can run anyway)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []
    previous = {
        signum: signal.signal(signum, lambda number, _frame: received.append(number))
        for signum in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


class _Heartbeat:
    """Renews a claim's lease while its build runs (every third of the lease)."""

    def __init__(self, processor: BatchProcessor, claim: Claim) -> None:
        self.processor = processor
        self.claim = claim
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._beat, name=f"lease-{claim.plan}", daemon=True)

    def __enter__(self) -> _Heartbeat:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.done.set()
        self.thread.join()

    def _beat(self) -> None:
        p = self.processor
        interval = max(p.lease_seconds / 3, 0.05)
        while not self.done.wait(interval):
            try:
                if not p.queue.renew(self.claim, p.now(), p.lease_seconds):
                    log.warning("lost the lease on plan %r", self.claim.plan)
                    return
            except Exception:
                log.exception("could not renew the lease on plan %r", self.claim.plan)

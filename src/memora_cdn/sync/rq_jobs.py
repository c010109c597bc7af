"""Plan builds as RQ jobs (SPEC §5): how memora-cdn scales past one machine.

With Redis configured, `memora-cdn worker` only feeds RQ: it claims due plans from the queue
(under a lease) and enqueues one job per plan on the RQ queue `memora-cdn`, with a job id
derived from the plan and rq's atomic unique enqueue, so a plan is never queued twice.
`rq worker memora-cdn` on any number of hosts runs `build_plan`: it takes the plan's Redis
lock (released only by its owner), builds it with the claim it was handed, and completes,
retries or dead-letters it exactly as an in-process build would. A job whose claim has gone
stale (its lease ran out while it waited) builds nothing: the plan has been handed to a newer
job.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from redis import Redis
from rq import Queue
from rq.exceptions import DuplicateJobError, NoSuchJobError
from rq.job import Job, JobStatus

from memora_cdn.core.model import SyncStatus, Trigger
from memora_cdn.queue.base import Claim, PlanQueue
from memora_cdn.sync.processor import BatchProcessor, BuildOutcome

log = logging.getLogger(__name__)

QUEUE_NAME = "memora-cdn"
_ACTIVE = {JobStatus.QUEUED, JobStatus.STARTED, JobStatus.DEFERRED, JobStatus.SCHEDULED}


class PlanLock(Protocol):
    def lock(self, plan: str, token: str, ttl_ms: int) -> bool: ...

    def renew_lock(self, plan: str, token: str, ttl_ms: int) -> bool: ...

    def unlock(self, plan: str, token: str) -> bool: ...


def job_id(plan: str) -> str:
    """One RQ job id per plan (plan names may hold any character; ids may not)."""
    return "memora-cdn-plan-" + hashlib.sha256(plan.encode()).hexdigest()[:32]


def binary_client(client: Redis) -> Redis:
    """A client of the same server that does not decode responses: RQ's job data is binary
    (the app's client decodes, so `Job.fetch` through it would fail)."""
    pool = client.connection_pool
    kwargs = {**pool.connection_kwargs, "decode_responses": False}
    return Redis(connection_pool=type(pool)(connection_class=pool.connection_class, **kwargs))


@dataclass(frozen=True, slots=True)
class Dispatch:
    enqueued: tuple[str, ...] = ()
    put_back: tuple[str, ...] = ()
    """Plans whose job was still queued or running: released, never dropped."""


class RqDispatcher:
    """The scheduler's side: due plans become RQ jobs."""

    def __init__(
        self,
        connection: Redis,
        queue: PlanQueue,
        *,
        worker_id: str,
        lease_seconds: float,
        now: Callable[[], Any],
        job_timeout: int = 3600,
    ) -> None:
        self.connection = binary_client(connection)
        self.rq = Queue(QUEUE_NAME, connection=self.connection)
        self.queue = queue
        self.worker_id = worker_id
        self.lease_seconds = lease_seconds
        self.now = now
        self.job_timeout = job_timeout

    def dispatch(self, trigger: Trigger, *, include_pending: bool = True) -> Dispatch:
        enqueued: list[str] = []
        put_back: list[str] = []
        while True:
            claims = self.queue.claim(
                self.worker_id,
                self.now(),
                lease_seconds=self.lease_seconds,
                limit=50,
                include_pending=include_pending,
            )
            if not claims:
                break
            for claim in claims:
                if self._enqueue(claim, trigger):
                    enqueued.append(claim.plan)
                else:
                    self.queue.release(claim, self.now())
                    put_back.append(claim.plan)
            if put_back:
                break  # what is left is being built: look again next tick
        return Dispatch(tuple(enqueued), tuple(put_back))

    def _enqueue(self, claim: Claim, trigger: Trigger) -> bool:
        """Enqueue the plan's job with rq's atomic unique enqueue; False while an earlier job
        of the plan is still queued or running (a finished or failed one is removed first)."""
        for _ in range(2):
            try:
                self.rq.enqueue(
                    build_plan,
                    claim.plan,
                    claim.token,
                    claim.attempts,
                    claim.is_fallback,
                    trigger.value,
                    job_id=job_id(claim.plan),
                    unique=True,
                    job_timeout=self.job_timeout,
                    result_ttl=3600,
                    failure_ttl=86400,
                    description=f"build plan {claim.plan}",
                )
                return True
            except DuplicateJobError:
                if not self._remove_ended(claim.plan):
                    return False
        return False

    def _remove_ended(self, plan: str) -> bool:
        """Delete the plan's previous job if it has ended; False while it is queued or running."""
        try:
            job = Job.fetch(job_id(plan), connection=self.connection)
        except NoSuchJobError:
            return True
        if job.get_status(refresh=False) in _ACTIVE:
            return False
        job.delete()
        return True


def run_claimed(
    processor: BatchProcessor,
    locks: PlanLock,
    claim: Claim,
    trigger: Trigger,
    lock_ttl_ms: int,
) -> BuildOutcome | None:
    """Build one claimed plan under its Redis lock; None when the claim or lock was lost."""
    if not processor.queue.renew(claim, processor.now(), processor.lease_seconds):
        log.info("plan %r: claim went stale while the job waited; nothing built", claim.plan)
        return None
    if not locks.lock(claim.plan, claim.token, lock_ttl_ms):
        log.info("plan %r is locked by another build; put back", claim.plan)
        processor.queue.release(claim, processor.now())
        return None
    done = threading.Event()

    def keep_lock() -> None:
        while not done.wait(lock_ttl_ms / 3000):
            if not locks.renew_lock(claim.plan, claim.token, lock_ttl_ms):
                log.warning("lost the lock on plan %r", claim.plan)
                return

    keeper = threading.Thread(target=keep_lock, name=f"lock-{claim.plan}", daemon=True)
    keeper.start()
    try:
        return processor.build(claim, trigger)
    finally:
        done.set()
        keeper.join()
        locks.unlock(claim.plan, claim.token)


def _worker_context() -> tuple[BatchProcessor, PlanLock, int]:
    """The app of this `rq worker` process (built once, from its `MEMORA_CDN_*` settings)."""
    from memora_cdn.app import process_app

    application = process_app()
    if application.plan_lock is None:
        raise RuntimeError("RQ jobs need redis_url: the per-plan lock lives in Redis")
    ttl_ms = application.settings.lock_ttl_seconds * 1000
    return application.processor(), application.plan_lock, ttl_ms


def build_plan(plan: str, token: str, attempts: int, is_fallback: bool, trigger: str) -> str:
    """The RQ job: build one plan with the claim the scheduler took for it."""
    processor, locks, ttl_ms = _worker_context()
    claim = Claim(plan, token, attempts, is_fallback)
    outcome = run_claimed(processor, locks, claim, Trigger(trigger), ttl_ms)
    if outcome is None:
        return "skipped"
    if outcome.status is not SyncStatus.SUCCESS:
        log.warning("plan %r: %s (%s)", plan, outcome.status.value, outcome.error)
    return outcome.status.value

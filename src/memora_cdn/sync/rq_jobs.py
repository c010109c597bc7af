"""The RQ workers' side of plan builds as RQ jobs: `build_plan` builds one claimed plan.

Design notes: docs/decisions/rq.md
"""

from __future__ import annotations

import logging
import threading

from rq.worker import Worker

from memora_cdn.core.model import SyncStatus, Trigger
from memora_cdn.entry import process_app
from memora_cdn.queue.base import Claim
from memora_cdn.queue.lock import PlanLock
from memora_cdn.sync.processor import BatchProcessor, BuildOutcome

log = logging.getLogger(__name__)


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


def build_plan(
    plan: str, token: str, attempts: int, is_fallback: bool, backend: str, trigger: str
) -> str:
    """The RQ job: build one plan with the claim the scheduler took for it."""
    application = process_app()
    if application.plan_lock is None:
        raise RuntimeError("RQ jobs need redis_url: the per-plan lock lives in Redis")
    claim = Claim(plan, token, attempts, backend, is_fallback)
    ttl_ms = application.settings.lock_ttl_seconds * 1000
    outcome = run_claimed(
        application.processor(), application.plan_lock, claim, Trigger(trigger), ttl_ms
    )
    if outcome is None:
        return "skipped"
    if outcome.status is not SyncStatus.SUCCESS:
        log.warning("plan %r: %s (%s)", plan, outcome.status.value, outcome.error)
    return outcome.status.value


class BuildWorker(Worker):
    """An RQ worker that has memora-cdn loaded before it forks the work horse of each job.

    `rq worker memora-cdn` imports the job's module in every work horse, about 0.8 s of CPU per
    job; `rq worker -w memora_cdn.sync.rq_jobs.BuildWorker memora-cdn` imports it once, in the
    worker, because this class lives in that module. Builds are the same either way.
    """

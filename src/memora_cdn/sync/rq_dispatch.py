"""The scheduler's side of plan builds as RQ jobs: due plans become jobs on the RQ queue.

Design notes: docs/decisions/rq.md
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from redis import Redis
from rq import Queue
from rq.exceptions import DuplicateJobError, NoSuchJobError
from rq.job import Job, JobStatus

from memora_cdn.core.model import Trigger
from memora_cdn.queue.base import Claim, PlanQueue

log = logging.getLogger(__name__)

QUEUE_NAME = "memora-cdn"
BUILD_JOB = "memora_cdn.sync.rq_jobs.build_plan"
"""The job RQ workers run, by name: the job side imports the app, which imports this module."""
_ACTIVE = {JobStatus.QUEUED, JobStatus.STARTED, JobStatus.DEFERRED, JobStatus.SCHEDULED}


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
    """What one dispatch did: plans handed to RQ, and plans put back."""

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

    def hand_over(self, trigger: Trigger, include_pending: bool) -> Dispatch:
        """`dispatch`, logging how many plans went to RQ (the worker's tick)."""
        sent = self.dispatch(trigger, include_pending=include_pending)
        if sent.enqueued:
            log.info("%s: %d plans handed to RQ", trigger.value, len(sent.enqueued))
        return sent

    def dispatch(self, trigger: Trigger, *, include_pending: bool = True) -> Dispatch:
        """Claim due plans and enqueue one job each, until none is due or one is busy."""
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
                    BUILD_JOB,
                    claim.plan,
                    claim.token,
                    claim.attempts,
                    claim.is_fallback,
                    claim.backend,
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

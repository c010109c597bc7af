"""Plan builds as RQ jobs: two real `rq worker memora-cdn` processes share the work.

The batch test runs them with `-w memora_cdn.sync.rq_jobs.BuildWorker` (memora-cdn loaded
once per worker, not once per job); one test runs the plain command of SPEC §5."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from rq.job import JobStatus

from fakes.redisserver import PrivateRedis
from memora_cdn.core.model import Trigger
from memora_cdn.sync.rq_dispatch import QUEUE_NAME, RqDispatcher, job_id
from sitekit import Site

pytestmark = pytest.mark.slow


def catalogue(site: Site, plans: int) -> list[str]:
    names = []
    for p in range(plans):
        plan = site.build.plan(f"P{p:02}", subjects=[f"S{p:02}"])
        names.append(plan)
        site.build.subject(f"S{p:02}")
        site.build.track(f"S{p:02}-T", f"S{p:02}")
        site.build.unit(f"S{p:02}-U", f"S{p:02}-T")
        site.build.topic(f"S{p:02}-TP", f"S{p:02}-U")
        for n in range(40):
            site.build.lesson(f"S{p:02}-L{n:03}", f"S{p:02}-TP", sort_order=n)
    site.build.insert()
    return names


PRELOADED = ("-w", "memora_cdn.sync.rq_jobs.BuildWorker")


def run_rq_workers(
    site: Site, redis_url: str, count: int, options: tuple[str, ...] = PRELOADED
) -> list[str]:
    env = {
        **os.environ,
        "MEMORA_CDN_DATABASE_URL": site.database_url,
        "MEMORA_CDN_STATE_DATABASE_URL": site.settings.state_url,
        "MEMORA_CDN_STORE": site.settings.store,
        "MEMORA_CDN_REDIS_URL": redis_url,
    }
    rq = Path(sys.executable).with_name("rq")
    processes = [
        subprocess.Popen(
            [
                str(rq),
                "worker",
                *options,
                QUEUE_NAME,
                "--url",
                redis_url,
                "--burst",
                "--name",
                f"w{n}",
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for n in range(count)
    ]
    outputs = []
    for process in processes:
        output, _ = process.communicate(timeout=300)
        assert process.returncode == 0, output
        outputs.append(output)
    return outputs


@pytest.fixture
def site(tmp_path: Path, private_redis: PrivateRedis) -> Iterator[Site]:
    """A site on a private Redis, its state in SQLite (shared with the RQ worker processes)."""
    site = Site(
        tmp_path,
        state_database_url=f"sqlite:///{tmp_path / 'site.db'}",
        redis_url=private_redis.url,
    )
    try:
        yield site
    finally:
        site.close()


def scheduler(site: Site) -> RqDispatcher:
    assert site.app.redis is not None
    return RqDispatcher(
        site.app.redis, site.app.queue, worker_id="scheduler", lease_seconds=300, now=site.app.now
    )


def test_two_rq_workers_build_twenty_plans_once_per_batch(
    site: Site, private_redis: PrivateRedis
) -> None:
    plans = catalogue(site, 20)
    dispatcher = scheduler(site)
    for batch in (1, 2):
        site.clock.now = time.time()  # the RQ workers run on the real clock
        site.app.intake.queue_plans(plans, trigger=Trigger.SCHEDULER)
        sent = dispatcher.dispatch(Trigger.SCHEDULER)
        assert sorted(sent.enqueued) == plans, (batch, sent)
        # Queued again before the workers ran: one job per plan, never two.
        site.app.intake.queue_plans(plans, trigger=Trigger.SCHEDULER)
        assert dispatcher.dispatch(Trigger.SCHEDULER).enqueued == ()
        outputs = run_rq_workers(site, private_redis.url, 2)
        built = site.successful_builds()
        assert sorted(built) == plans
        assert all(len(spans) == batch for spans in built.values()), built
        assert all("Job OK" in output for output in outputs), "both workers took jobs"
        # The queue's dirty marks bring every plan back once for the next batch.
        site.clock.now = time.time()
        leftovers = site.app.queue.claim("test", site.app.now(), lease_seconds=60, limit=50)
        for claim in leftovers:
            site.app.queue.complete(claim, site.app.now())
    for spans in site.successful_builds().values():
        ordered = sorted(spans)
        for (_, end), (start, _) in itertools.pairwise(ordered):
            assert end <= start, "two builds of one plan overlapped"
    site.assert_store_equals_fresh_export()


def test_the_plain_rq_worker_command_builds_a_queued_plan(
    site: Site, private_redis: PrivateRedis
) -> None:
    [plan] = catalogue(site, 1)
    site.clock.now = time.time()
    site.app.intake.queue_plans([plan], trigger=Trigger.SCHEDULER)
    assert scheduler(site).dispatch(Trigger.SCHEDULER).enqueued == (plan,)

    [output] = run_rq_workers(site, private_redis.url, 1, options=())

    assert "Job OK" in output, output
    assert list(site.successful_builds()) == [plan]
    site.assert_store_equals_fresh_export()


def test_a_plan_whose_job_still_waits_is_put_back_and_one_whose_job_ended_is_enqueued_again(
    site: Site,
) -> None:
    [plan] = catalogue(site, 1)
    dispatcher = scheduler(site)
    waiting = dispatcher.rq.enqueue(print, job_id=job_id(plan))  # an earlier build's job

    site.app.intake.queue_plans([plan], trigger=Trigger.SCHEDULER)
    sent = dispatcher.dispatch(Trigger.SCHEDULER)

    assert (sent.enqueued, sent.put_back) == ((), (plan,))
    assert dispatcher.rq.job_ids == [waiting.id]
    assert site.app.queue.stats(site.app.now()).pending == 1, "released, not dropped"

    waiting.set_status(JobStatus.FINISHED)
    dispatcher.rq.remove(waiting)
    sent = dispatcher.dispatch(Trigger.SCHEDULER)

    assert (sent.enqueued, sent.put_back) == ((plan,), ())
    [job] = dispatcher.rq.jobs
    assert job.id == job_id(plan)
    assert job.args[0] == plan

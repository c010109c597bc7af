"""Build processes: plans of one batch built side by side in forked children (one per core).

Design notes: docs/decisions/builds.md
"""

from __future__ import annotations

import contextlib
import multiprocessing
import signal
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from typing import Any

from memora_cdn.errors import MemoraCdnError
from memora_cdn.publish import Publisher, PublishResult

_STOP_SECONDS = 10.0
"""How long `close` waits for an idle child to exit before terminating it."""


class ForkedBuildError(Exception):
    """A build's error as its build process reported it (not every exception pickles)."""

    def __init__(self, message: str, exit_code: int, expected: bool, trace: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code
        self.expected = expected
        """A `MemoraCdnError` (a failure memora-cdn explains), not a bug."""
        self.trace = trace

    def __reduce__(self) -> tuple[type[ForkedBuildError], tuple[str, int, bool, str]]:
        return ForkedBuildError, (self.message, self.exit_code, self.expected, self.trace)


@dataclass(frozen=True, slots=True)
class Reply:
    """A build process's report of one build: its result, or its error."""

    plan: str
    result: PublishResult | None = None
    error: ForkedBuildError | None = None


@dataclass(slots=True)
class _Child:
    process: BaseProcess
    conn: Connection
    plan: str | None = None
    """The plan it is building; None when idle."""


class BuildProcesses:
    """`count` forked build processes; `make_publisher` runs in each child, once."""

    def __init__(self, count: int, make_publisher: Callable[[], Publisher]) -> None:
        context = multiprocessing.get_context("fork")
        self._children: list[_Child] = []
        for number in range(count):
            parent_end, child_end = context.Pipe()
            process = context.Process(
                target=_serve,
                args=(child_end, make_publisher),
                name=f"memora-cdn-build-{number + 1}",
                daemon=True,
            )
            process.start()
            child_end.close()
            self._children.append(_Child(process, parent_end))

    def __enter__(self) -> BuildProcesses:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def idle(self) -> int:
        """Children with no build in hand."""
        return sum(1 for child in self._children if child.plan is None)

    @property
    def busy(self) -> list[str]:
        """The plans being built."""
        return [child.plan for child in self._children if child.plan is not None]

    def submit(self, plan: str, log_id: int) -> None:
        """Build `plan` (its sync log row `log_id`) in an idle child."""
        child = next(child for child in self._children if child.plan is None)
        child.conn.send((plan, log_id))
        child.plan = plan

    def next_reply(self) -> Reply:
        """Wait for a busy child to finish its build (or to die, which fails that build)."""
        handles: dict[Any, _Child] = {}  # pipes and process sentinels
        for child in self._children:
            if child.plan is not None:
                handles[child.conn] = handles[child.process.sentinel] = child
        for handle in wait(list(handles)):
            child = handles[handle]
            if child.plan is None:  # its pipe and its sentinel were both ready
                continue
            plan, child.plan = child.plan, None
            try:
                reply: Reply = child.conn.recv()
            except (EOFError, OSError):
                child.process.join(1)
                code = child.process.exitcode
                message = f"the build process of {plan} exited (status {code}) before it finished"
                return Reply(plan, error=ForkedBuildError(message, 1, expected=False))
            return reply
        raise AssertionError("wait() returned no busy child")  # pragma: no cover

    def close(self) -> None:
        """Let idle children exit; terminate any that do not."""
        for child in self._children:
            with contextlib.suppress(OSError):  # a child that died has no reader
                child.conn.send(None)
        for child in self._children:
            child.process.join(_STOP_SECONDS if child.plan is None else 0)
            if child.process.is_alive():
                child.process.terminate()
                child.process.join()
            child.conn.close()

    def terminate(self) -> None:
        """Stop every child now, mid-build (an interrupt): what a killed build left
        half-written is cleared by the plan's next build."""
        for child in self._children:
            child.process.terminate()
        for child in self._children:
            child.process.join()
            child.plan = None


def _serve(conn: Connection, make_publisher: Callable[[], Publisher]) -> None:
    """A child's loop: build each plan it is sent until it is sent None."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # and terminates us
    publisher = make_publisher()
    while (job := conn.recv()) is not None:
        plan, log_id = job
        try:
            reply = Reply(plan, result=publisher.publish(plan, log_id=log_id))
        except Exception as error:
            reply = Reply(plan, error=_forked_error(error))
        conn.send(reply)
    conn.close()


def _forked_error(error: Exception) -> ForkedBuildError:
    if isinstance(error, MemoraCdnError):
        return ForkedBuildError(str(error), error.exit_code, expected=True)
    message = f"{type(error).__name__}: {error}"
    return ForkedBuildError(message, 1, expected=False, trace=traceback.format_exc())

"""What every group of state-table reads and writes shares: the state database's engine."""

from __future__ import annotations

from sqlalchemy import Engine


class StateTables:
    """The base of each part of `StateRepository`: one engine, on the state database."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

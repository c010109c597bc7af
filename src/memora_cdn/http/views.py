"""The dashboard's view model: plain functions that shape what `operations` reads into what
the templates show (badges, ages, sizes, the builds chart). No I/O; time is passed in."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from memora_cdn.core.model import AccessLevel, SyncStatus
from memora_cdn.state.sync_log import SyncLogEntry


@dataclass(frozen=True, slots=True)
class Badge:
    """A labelled, coloured tag the dashboard shows beside a node or a sync."""

    label: str
    tone: str
    """The CSS modifier: public, authenticated, paid, preview, separate, hidden."""
    hint: str


_LEVEL_BADGES = {
    AccessLevel.PUBLIC.value: Badge("public", "public", "Anyone, signed in or not"),
    AccessLevel.AUTHENTICATED.value: Badge(
        "signed-in", "authenticated", "Any signed-in student (authenticated)"
    ),
    AccessLevel.FREE_PREVIEW.value: Badge(
        "free preview", "preview", "Free to every student, even in a paid subject"
    ),
}


def badges(access: dict[str, Any]) -> list[Badge]:
    """The badges of one node's access block, as the explorer shows them."""
    level = str(access["access_level"])
    if level == AccessLevel.PAID.value:
        item = access.get("required_item")
        hint = f"Needs the item {item}"
        if access.get("parent_item_required"):
            hint += " (buying the subject unlocks it)"
        found = [Badge(f"paid · {item}", "paid", hint)]
    else:
        found = [_LEVEL_BADGES.get(level, Badge(level, "authenticated", level))]
    if access.get("is_sold_separately"):
        found.append(Badge("sold separately", "separate", "A track bought on its own"))
    return found


def access_filter(access: dict[str, Any]) -> str:
    """The explorer's access filter value of a node: free, signed-in, paid or separate."""
    if access.get("is_sold_separately"):
        return "paid separate"
    level = str(access["access_level"])
    if level in (AccessLevel.PUBLIC.value, AccessLevel.FREE_PREVIEW.value):
        return "free"
    return "paid" if level == AccessLevel.PAID.value else "signed-in"


def tree_summary(tree: dict[str, Any]) -> dict[str, int]:
    """Lessons of a plan tree by level: how many are public, free preview, signed-in, paid."""
    counts = {level.value: 0 for level in AccessLevel}

    def walk(node: dict[str, Any]) -> None:
        if node["kind"] == "lesson":
            counts[str(node["access"]["access_level"])] += 1
        for child in node["children"]:
            walk(child)

    for subject in tree["subjects"]:
        walk(subject)
    return counts


def ago(at: datetime | None, now: datetime) -> str:
    """How long ago, in the largest whole unit: `12 s ago`, `5 min ago`, `3 h ago`, `2 d ago`."""
    if at is None:
        return "never"
    seconds = int((now - at).total_seconds())
    if seconds < 0:
        return "just now"
    for size, unit in ((86400, "d"), (3600, "h"), (60, "min")):
        if seconds >= size:
            return f"{seconds // size} {unit} ago"
    return f"{seconds} s ago"


def within(seconds: int) -> str:
    """A time left: `in 40 min`, `in 3 h`, or `expired` when it is past."""
    if seconds <= 0:
        return "expired"
    if seconds >= 3600:
        return f"in {seconds // 3600} h {seconds % 3600 // 60} min"
    return f"in {max(1, seconds // 60)} min"


def size(count: int) -> str:
    """Bytes for people: `812 B`, `4.1 kB`, `12.5 MB`."""
    value = float(count)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{count} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    raise AssertionError("unreachable")


def seconds_taken(entry: SyncLogEntry) -> float | None:
    """How long a sync took; None while it has not completed."""
    if entry.completed_at is None:
        return None
    return max(0.0, (entry.completed_at - entry.started_at).total_seconds())


@dataclass(frozen=True, slots=True)
class Bar:
    """One build in the builds chart: its place, heights and hover title."""

    x: float
    width: float
    duration_height: float
    files_height: float
    failed: bool
    title: str


@dataclass(frozen=True, slots=True)
class Chart:
    """Two bar rows over the same builds, oldest left: duration on top, files uploaded below."""

    bars: tuple[Bar, ...]
    max_seconds: float
    max_files: int
    first: str
    last: str


CHART_WIDTH = 600.0
CHART_ROW = 80.0
"""Height of each of the chart's two rows, in SVG units (the viewBox is 600 × 220)."""


def build_chart(entries: list[SyncLogEntry]) -> Chart | None:
    """The builds chart of finished builds (newest first, as the sync log lists them)."""
    builds = [e for e in reversed(entries) if e.completed_at is not None]
    if not builds:
        return None
    durations = [seconds_taken(e) or 0.0 for e in builds]
    files = [e.counts.files_uploaded for e in builds]
    max_seconds = max(max(durations), 0.001)
    max_files = max(max(files), 1)
    slot = CHART_WIDTH / len(builds)
    width = max(1.0, min(slot * 0.7, 40.0))
    bars = []
    for index, (entry, seconds, uploaded) in enumerate(zip(builds, durations, files, strict=True)):
        bars.append(
            Bar(
                x=round(index * slot + (slot - width) / 2, 2),
                width=round(width, 2),
                duration_height=round(max(1.0, seconds / max_seconds * CHART_ROW), 2),
                files_height=round(uploaded / max_files * CHART_ROW, 2),
                failed=entry.status is SyncStatus.FAILED,
                title=(
                    f"{entry.plan_id} · {entry.status.value} · {seconds:.1f} s · "
                    f"{uploaded} files · {_stamp(entry.completed_at)}"
                ),
            )
        )
    return Chart(
        bars=tuple(bars),
        max_seconds=round(max_seconds, 1),
        max_files=max_files,
        first=_stamp(builds[0].completed_at),
        last=_stamp(builds[-1].completed_at),
    )


def _stamp(at: datetime | None) -> str:
    return "" if at is None else at.strftime("%Y-%m-%d %H:%M:%S UTC")

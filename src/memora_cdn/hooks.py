"""Frappe integration: a `doc_events` handler for a Frappe app's `hooks.py`.

Design notes and set-up: docs/decisions/frappe-hook.md
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Protocol

from memora_cdn.core.events import Action, ChangeEvent, parse_doctype
from memora_cdn.core.model import Trigger
from memora_cdn.entry import process_app
from memora_cdn.errors import UnknownDoctypeError
from memora_cdn.sync.intake import Intake, IntakeResult

log = logging.getLogger(__name__)

METHOD_ACTIONS: Mapping[str, Action] = {
    "after_insert": Action.INSERT,
    "on_update": Action.UPDATE,
    "on_update_after_submit": Action.UPDATE,
    "on_submit": Action.UPDATE,
    "on_cancel": Action.UPDATE,
    "on_trash": Action.TRASH,
    "after_delete": Action.DELETE,
    "after_restore": Action.RESTORE,
    "after_rename": Action.RENAME,
}


class FrappeDocument(Protocol):
    """What memora-cdn needs of a Frappe document."""

    doctype: str
    name: str

    def as_dict(self) -> Mapping[str, Any]: ...

    def get_doc_before_save(self) -> FrappeDocument | None: ...


def event_from_document(
    doc: FrappeDocument, method: str, old_name: str | None = None
) -> ChangeEvent | None:
    """The change event for a Frappe document hook, or None for a doctype not followed."""
    try:
        doctype = parse_doctype(doc.doctype)
    except UnknownDoctypeError:
        return None
    action = METHOD_ACTIONS.get(method, Action.UPDATE)
    before = doc.get_doc_before_save() if action is Action.UPDATE else None
    return ChangeEvent(
        doctype=doctype,
        name=str(doc.name),
        action=action,
        fields=dict(doc.as_dict()),
        before=dict(before.as_dict()) if before is not None else {},
        old_name=old_name,
    )


class DocumentHook:
    """Turns Frappe document hooks into queued plans through an `Intake`."""

    def __init__(self, intake: Intake) -> None:
        self.intake = intake

    def __call__(self, doc: FrappeDocument, method: str, *args: Any) -> IntakeResult | None:
        old_name = str(args[0]) if method == "after_rename" and args else None
        event = event_from_document(doc, method, old_name)
        if event is None:
            return None
        return self.intake.submit([event], trigger=Trigger.SCHEDULER)


def _default_hook() -> DocumentHook:
    return DocumentHook(process_app().intake)


def on_change(doc: FrappeDocument, method: str, *args: Any) -> None:
    """The `doc_events` handler: queue the plans a saved, trashed or renamed document affects."""
    try:
        _default_hook()(doc, method, *args)
    except Exception:
        log.exception(
            "memora-cdn could not queue %s %r (%s); the next scan will pick it up",
            getattr(doc, "doctype", "?"),
            getattr(doc, "name", "?"),
            method,
        )

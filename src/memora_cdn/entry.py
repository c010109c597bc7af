"""The app of this process, for entry points called as plain functions (the Frappe
`doc_events` hook, RQ jobs): built once from `MEMORA_CDN_*` and `MEMORA_CDN_CONFIG`."""

from __future__ import annotations

import os
import threading
from pathlib import Path

from memora_cdn.app import App, build_app
from memora_cdn.settings import load_settings

_process_app: App | None = None
_lock = threading.Lock()


def process_app() -> App:
    """This process's app, built on first use with its state tables created if missing."""
    global _process_app
    with _lock:
        if _process_app is None:
            config = os.environ.get("MEMORA_CDN_CONFIG")
            application = build_app(load_settings(Path(config) if config else None))
            application.prepare()
            _process_app = application
        return _process_app

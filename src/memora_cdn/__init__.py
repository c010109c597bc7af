"""memora-cdn: compile a Memora learning catalogue into per-plan static JSON on a CDN."""

__version__ = "0.1.0"

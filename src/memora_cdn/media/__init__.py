"""Signed media URLs in lesson stages (SPEC §3)."""

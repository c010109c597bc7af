"""Object stores: where published documents live (a local folder, or S3/R2)."""

from memora_cdn.store.base import ObjectStore

__all__ = ["ObjectStore"]

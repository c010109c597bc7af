"""The contracts of the published documents (SPEC §3): one JSON Schema per kind, and checks.
Design notes: docs/decisions/contracts.md"""

from memora_cdn.contracts.validate import (
    Problem,
    check_body,
    schema,
    schema_body,
    validate_document,
    validate_tree,
)

__all__ = ["Problem", "check_body", "schema", "schema_body", "validate_document", "validate_tree"]

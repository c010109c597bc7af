"""The contracts' checks in one import: schemas (`schemas`), one document (`document`) and a
store tree (`tree`). Design notes: docs/decisions/contracts.md"""

from memora_cdn.contracts.document import Problem, check_body, validate_document
from memora_cdn.contracts.schemas import compile_validators, schema, schema_body, schemas_digest
from memora_cdn.contracts.tree import validate_tree

__all__ = [
    "Problem",
    "check_body",
    "compile_validators",
    "schema",
    "schema_body",
    "schemas_digest",
    "validate_document",
    "validate_tree",
]

"""The contracts of the published documents (SPEC §3).

One JSON Schema (draft 2020-12) per kind of document ships next to this module as
`{kind}.schema.json`: manifest, subject, unit, lesson, search_index, search_shard and plans
(also published in every store under `schemas/v1/`). Every document's final bytes are
checked against its schema before anything is uploaded (`check_body`, then
`validate_document`), and
`memora-cdn validate DIR` checks a whole store tree, links and content versions included
(`validate_tree`).
"""

from memora_cdn.contracts.validate import (
    Problem,
    check_body,
    schema,
    schema_body,
    validate_document,
    validate_tree,
)

__all__ = ["Problem", "check_body", "schema", "schema_body", "validate_document", "validate_tree"]

"""The contracts of the published documents (SPEC §3): one JSON Schema per kind, and checks.
Design notes: docs/decisions/contracts.md"""

"""`memora-cdn serve` (SPEC §9): the health check, the Frappe webhook and the admin API as one
ASGI application built on the same `App` as every other command."""

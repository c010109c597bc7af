"""memora-cdn's own tables (SPEC §6): what is published, what each plan showed, the sync log."""

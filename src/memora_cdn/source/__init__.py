"""The source adapter: reads the Frappe-layout content tables (SPEC §1)."""

"""The `memora-cdn` commands, one module per concept; `memora_cdn.cli` lists them."""

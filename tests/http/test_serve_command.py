"""`memora-cdn serve` refuses to expose an open admin API (SPEC §9)."""

from __future__ import annotations

from pathlib import Path

import pytest

from clirun import invoke


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10", "::"])
def test_serve_without_an_admin_token_refuses_any_host_but_loopback(demo: Path, host: str) -> None:
    code, stdout, stderr = invoke("serve", "--host", host, "--port", "1")
    assert (code, stdout) == (2, "")
    assert stderr == (
        f"error: refusing to serve on {host}: admin_token is not set, so the admin API would "
        "be open to anyone who can reach it; set admin_token, or serve on 127.0.0.1\n"
    )

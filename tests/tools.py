"""Helpers for tests that need an external program (tshark, curl, ...).

Locally a missing program skips the test; in CI, where RAWPROTO_REQUIRE_TOOLS=1,
it fails it, so a broken image cannot turn the suite green by skipping.
"""

from __future__ import annotations

import os
import shutil

import pytest

REQUIRE_ENV = "RAWPROTO_REQUIRE_TOOLS"


def require_tool(name: str) -> str:
    """The path of program ``name``; skip the test if missing (fail if required)."""
    path = shutil.which(name)
    if path is not None:
        return path
    message = f"needs the external program {name!r}, which is not on PATH"
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{message} ({REQUIRE_ENV}=1)")
    pytest.skip(message)

"""The sans-IO rule: rawproto.core is synchronous and touches no network."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_core_imports_no_asyncio_socket_or_scapy() -> None:
    """The sans-IO guide: "defined entirely in terms of synchronous functions
    returning synchronous results" — so importing every core module must not
    load asyncio, socket, selectors, ssl or scapy. Checked in a fresh interpreter."""
    code = (
        "import sys, pkgutil, importlib, rawproto.core as c\n"
        "for m in pkgutil.iter_modules(c.__path__): importlib.import_module('rawproto.core.' + m.name)\n"
        "print(' '.join(sorted(m for m in ('asyncio', 'socket', 'selectors', 'ssl', 'scapy')"
        " if m in sys.modules)))\n"
        "print(len(list(pkgutil.iter_modules(c.__path__))))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True
    ).stdout.split("\n")
    assert out[0] == "", f"rawproto.core pulled in: {out[0]}"
    assert int(out[1]) >= 6  # the check really imported the modules


def test_core_has_no_async_functions() -> None:
    """No ``async def`` and no ``await`` anywhere in rawproto/core."""
    for path in (ROOT / "rawproto" / "core").glob("*.py"):
        text = path.read_text()
        assert "async def" not in text, path
        assert "await " not in text, path

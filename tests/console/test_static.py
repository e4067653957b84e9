"""The page's files: everything local (no CDN), the vendored library as pinned."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import replayflow.console

STATIC = Path(replayflow.console.__file__).resolve().parent / "static"
VENDOR = STATIC / "vendor" / "dagre"


def test_the_vendored_dagre_is_the_pinned_file_with_its_licences():
    readme = (VENDOR / "README.md").read_text()
    pinned = re.search(r"sha256 `([0-9a-f]{64})`", readme).group(1)
    assert hashlib.sha256((VENDOR / "dagre.esm.js").read_bytes()).hexdigest() == pinned
    assert "3.1.3" in readme
    for licence in ("LICENSE", "LICENSE.graphlib"):
        assert "Permission is hereby granted" in (VENDOR / licence).read_text()


def test_the_page_loads_nothing_from_elsewhere():
    for path in STATIC.rglob("*"):
        if path.suffix not in (".html", ".js", ".css") or path.parent == VENDOR:
            continue
        text = path.read_text()
        assert not re.search(r"""(src|href)=["']?(https?:)?//""", text), path
        assert not re.search(r"""\bimport\b[^;]*["']https?://""", text), path
        assert "innerHTML" not in text, path  # history data goes in as text, never as markup

"""What the command-line fuzz tests compare before and after a run: the files under a folder, by content."""

import hashlib
from pathlib import Path


def hashes(root: Path) -> dict:
    """Relative path -> SHA-256 of every file under ``root``."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}

"""Shared test setup: make hack/ importable (the sandbox library lives there)."""

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "hack"))

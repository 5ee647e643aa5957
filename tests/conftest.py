"""Shared test setup: the repository root on sys.path, and FAST mode for everything the tests run."""

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("WORKBOOK_FAST", "1")

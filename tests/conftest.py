"""Shared test setup: FAST mode for everything the tests run (the course package is installed, `make setup`)."""

import os

os.environ.setdefault("WORKBOOK_FAST", "1")

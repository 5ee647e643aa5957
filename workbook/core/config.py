"""Course-wide settings: the repository address, the FAST switch and the cache folder.

Everything that more than one notebook needs to agree on is defined here once.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

REPO_SLUG = "post-training-workbook/post-training-workbook"
REPO_URL = f"https://github.com/{REPO_SLUG}"
REPO_BRANCH = "main"
COLAB_CLONE_DIR = "/content/post-training-workbook"



def repo_root() -> Path:
    """The course checkout (`data/`, `chapters/`, `labs/`): the package is installed from it in editable mode.

    This is the one place the repository root is computed; everything else imports `ROOT`.
    """
    return Path(__file__).resolve().parents[2]


ROOT = repo_root()
DATA_DIR = ROOT / "data"

FAST_ENV = "WORKBOOK_FAST"
CACHE_ENV = "WORKBOOK_CACHE"


def is_fast() -> bool:
    """True when WORKBOOK_FAST is set to a true value (1, true, yes, on)."""
    return os.environ.get(FAST_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


FAST = is_fast()


def pick(fast: T, full: T) -> T:
    """Return `fast` in FAST mode and `full` otherwise: only sizes change between modes."""
    return fast if is_fast() else full


def cache_dir() -> Path:
    """The folder for materialised checkpoints and other derived artefacts."""
    default = Path.home() / ".cache" / "post-training-workbook"
    return Path(os.environ.get(CACHE_ENV) or default).expanduser()


def colab_url(notebook_path: str) -> str:
    """The 'Open in Colab' address of a notebook, given its path inside the repository."""
    return f"https://colab.research.google.com/github/{REPO_SLUG}/blob/{REPO_BRANCH}/{notebook_path}"


def colab_badge(notebook_path: str) -> str:
    """Markdown for the 'Open in Colab' badge of a notebook."""
    image = "https://colab.research.google.com/assets/colab-badge.svg"
    return f"[![Open In Colab]({image})]({colab_url(notebook_path)})"

"""Claims that check themselves.

    expect(after < before, "training lowered the held-out loss", observed=f"{before:.3f} -> {after:.3f}")

Every sentence a chapter's text relies on ("these match", "this one is smaller") is an `expect` next to the output
it is about. It prints one readable line either way. When the notebook runs strict (WORKBOOK_STRICT=1, which the
test suite and `workbook.core.notebook_runner` set) a claim that does not hold raises `ClaimFailed`, so a false
claim fails the build; a student's run only prints the warning and goes on.

`full_only=True` marks an effect that FAST sizes are too small to show: in FAST mode a miss is reported as "not
visible at FAST sizes" (never silently dropped), in full mode it is checked like any other claim.
"""

from __future__ import annotations

import math
import os

from workbook.core.config import is_fast

STRICT_ENV = "WORKBOOK_STRICT"


class ClaimFailed(AssertionError):
    """A claim the notebook's text makes did not hold on this run."""


def is_strict() -> bool:
    """True when WORKBOOK_STRICT is set to a true value: a failed claim then raises."""
    return os.environ.get(STRICT_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


def expect(condition: object, claim: str, *, observed: str = "", full_only: bool = False) -> bool:
    """Print whether `claim` held on this run (with what was `observed`); raise `ClaimFailed` if not, when strict."""
    seen = f" ({observed})" if observed else ""
    if condition:
        print(f"✓ {claim}{seen}")
        return True
    if full_only and is_fast():
        print(f"~ {claim}: not visible at FAST sizes{seen}; a full run (WORKBOOK_FAST=0) shows it.")
        return False
    message = f"✗ {claim}: did not hold on this run{seen}."
    if is_strict():
        raise ClaimFailed(message)
    print(message + " The text above assumes it; look at the outputs before reading on.")
    return False


def expect_close(actual: float, reference: float, claim: str, *, atol: float = 0.0, rtol: float = 0.0) -> bool:
    """`expect` that |actual - reference| <= atol + rtol * |reference| (NaN never matches)."""
    difference = abs(float(actual) - float(reference))
    allowed = atol + rtol * abs(float(reference))
    observed = f"{actual:.6g} vs {reference:.6g}, difference {difference:.2e}, allowed {allowed:.2e}"
    return expect(not math.isnan(difference) and difference <= allowed, claim, observed=observed)

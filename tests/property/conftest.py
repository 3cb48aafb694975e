"""Property-based tests: hypothesis profiles, and the unit tests' fakes and builders on the import path.

The "ci" profile is the default: derandomized, so every run tries the same examples and a red build can be
replayed exactly. `HYPOTHESIS_PROFILE=explore` searches with fresh randomness (and more examples) instead,
for a developer hunting new counterexamples; the one it finds belongs in an `@example` next to its test.
No example database is written, and hypothesis' caches live in the temp directory: the working tree stays
clean and CI stays reproducible.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from hypothesis import settings

# Hypothesis keeps caches (Unicode tables, the constants of the code under test) in a storage directory,
# `.hypothesis/` in the working directory by default: they go to the temp directory instead.
os.environ.setdefault("HYPOTHESIS_STORAGE_DIRECTORY", str(Path(tempfile.gettempdir()) / "model-promotion-hypothesis"))

UNIT_TESTS = Path(__file__).resolve().parents[1] / "unit"
if str(UNIT_TESTS) not in sys.path:
    sys.path.insert(0, str(UNIT_TESTS))

settings.register_profile(
    "ci", derandomize=True, database=None, deadline=None, print_blob=True, report_multiple_bugs=False
)
settings.register_profile("explore", derandomize=False, database=None, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

"""Fail (exit 1) on an import circle among nightshift/, tasks/, flows/ and metrics/ (run by the test suite too:
tests/unit/test_layout.py). Usage: python .ci/check_imports.py"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "unit"))
from test_layout import cycles, import_graph  # noqa: E402

found = cycles(import_graph())
for component in found:
    print("import circle:", " -> ".join(component))
sys.exit(1 if found else 0)

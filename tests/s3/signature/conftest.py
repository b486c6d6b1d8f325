"""Make ``kosha`` importable when pytest runs without a project config (no pyproject yet).

Harmless once the repo's pytest config sets ``pythonpath = ["."]``; delete it then.
"""

import sys
from pathlib import Path

_ROOT = str(Path(__file__).resolve().parents[3])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

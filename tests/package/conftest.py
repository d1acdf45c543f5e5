import sys
from pathlib import Path

# The integration harness (free ports, HTTP helpers) is shared.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))

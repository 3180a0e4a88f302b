"""Stand-in cluster's status command (tests/test_storage.py): STATE JOBID -> running|success|failed."""

import sys
from pathlib import Path

rc = Path(sys.argv[1]) / sys.argv[2] / "rc"
print("running" if not rc.is_file() else "success" if rc.read_text().strip() == "0" else "failed")

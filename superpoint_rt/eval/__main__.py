"""``python -m superpoint_rt.eval ...`` is ``superpoint-rt eval ...``."""

from __future__ import annotations

import sys

from superpoint_rt.apps.eval_cli import main

if __name__ == "__main__":
    sys.exit(main())

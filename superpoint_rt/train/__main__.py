"""``python -m superpoint_rt.train <stage> ...``."""

from __future__ import annotations

import sys

from superpoint_rt.apps.train_cli import main

if __name__ == "__main__":
    sys.exit(main())

from __future__ import annotations

import sys

from booking.cli import main

sys.exit(main())

"""``python -m booking.web.build_assets``: build the pages' assets (see booking.web.assets)."""

from __future__ import annotations

import sys

from booking.web.assets import BUILD_DIR, build

if __name__ == "__main__":
    built = build()
    total = sum((BUILD_DIR / p).stat().st_size for p in built.values())
    sys.stderr.write(f"[web-assets] {len(built)} files, {total // 1024} KB, in {BUILD_DIR}\n")

"""Demo catalogue: the whole bundled national open-data file, into an empty catalogue."""

from __future__ import annotations

from booking.catalogue.importer import import_file
from booking.db import Conn
from booking.settings import REPO_ROOT

__all__ = ("DEMO_DATA", "import_demo_catalogue")

DEMO_DATA = REPO_ROOT / "data" / "public-facilities" / "national-standard-2022.csv"


async def import_demo_catalogue(conn: Conn) -> str:
    """Import every room of the file (all 17 regions) unless the catalogue already has an
    institution; one-line summary."""
    if await conn.fetchval("SELECT EXISTS (SELECT 1 FROM institutions)"):
        return "catalogue: not empty, demo import skipped"
    report = await import_file(conn, DEMO_DATA)
    regions = await conn.fetchval("SELECT count(DISTINCT region) FROM institutions")
    return (
        f"catalogue: {report.rooms_created} rooms of {report.institutions_created} "
        f"institutions in {regions} regions imported from {DEMO_DATA.name}"
        f" ({sum(report.skipped.values())} rows skipped)"
    )

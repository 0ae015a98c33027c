"""The web UI: one page and its static files."""

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse

STATIC = Path(__file__).parent / "static"
router = APIRouter()


@router.get("/", include_in_schema=False)
async def index() -> FileResponse:
    """The Messages module (it signs in first if there is no session)."""
    return FileResponse(STATIC / "index.html", headers={"cache-control": "no-cache"})

"""The web UI: one page and its static files."""

from pathlib import Path
from typing import Any

from fastapi import APIRouter
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles
from starlette.responses import Response

STATIC = Path(__file__).parent / "static"
router = APIRouter()


@router.get("/", include_in_schema=False)
async def index() -> FileResponse:
    """The Messages module (it signs in first if there is no session)."""
    return FileResponse(STATIC / "index.html", headers={"cache-control": "no-cache"})


class RevalidatedStaticFiles(StaticFiles):
    """The UI's modules, which browsers must revalidate (ETag) so a deploy never pairs new and old files."""

    def file_response(self, *args: Any, **kwargs: Any) -> Response:
        response = super().file_response(*args, **kwargs)
        response.headers["cache-control"] = "no-cache"
        return response

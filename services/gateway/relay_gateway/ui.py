"""The web UI: the built page at `/` and its files under `/ui/` (built by Vite from `frontend/` into `ui/`)."""

from pathlib import Path
from typing import Any

from fastapi import APIRouter
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles
from starlette.responses import PlainTextResponse, Response

BUILT = Path(__file__).parent / "ui"
ASSETS_PREFIX = "assets/"
NOT_BUILT = "The web UI is not built: run `make ui` (npm ci and npm run build in services/gateway/frontend)."
router = APIRouter()


@router.get("/", include_in_schema=False, response_model=None)
async def index() -> Response:
    """The Messages module (it signs in first if there is no session); always revalidated, so a deploy shows at once."""
    page = BUILT / "index.html"
    if not page.is_file():
        return PlainTextResponse(NOT_BUILT, status_code=503, headers={"cache-control": "no-store"})
    return FileResponse(page, headers={"cache-control": "no-cache"})


class BuiltFiles(StaticFiles):
    """The UI's files: hashed assets are kept by browsers for a year (a new build has new names); the rest revalidate."""

    def file_response(self, full_path: Any, stat_result: Any, scope: Any, status_code: int = 200) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        relative = str(scope.get("path", "")).lstrip("/")
        hashed = relative.startswith(ASSETS_PREFIX) or "/" + ASSETS_PREFIX in "/" + relative
        response.headers["cache-control"] = "public, max-age=31536000, immutable" if hashed else "no-cache"
        return response


def built_files() -> BuiltFiles:
    """The `/ui` mount; a checkout without a build still starts (the page says how to build it)."""
    return BuiltFiles(directory=BUILT, check_dir=False)

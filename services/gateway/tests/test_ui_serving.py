"""The built web UI as the gateway serves it: the page revalidated on every visit, its hashed files kept by
browsers, the old module folder gone, and every answer under the page's security policy."""

import re
from pathlib import Path

import httpx
import pytest

from relay_stack.processes import ServiceProcess

BUILT = Path(__file__).resolve().parents[1] / "relay_gateway" / "ui" / "index.html"

pytestmark = pytest.mark.skipif(not BUILT.is_file(), reason="the web UI is not built (make ui)")


def _asset_paths(page: str) -> list[str]:
    return re.findall(r'(?:src|href)="(/ui/assets/[^"]+)"', page)


def test_the_page_is_revalidated_and_names_its_built_files(gateway: ServiceProcess) -> None:
    answer = httpx.get(f"{gateway.url}/")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/html")
    assert answer.headers["cache-control"] == "no-cache"
    assets = _asset_paths(answer.text)
    assert any(path.endswith(".js") for path in assets), answer.text
    assert any(path.endswith(".css") for path in assets), answer.text
    assert "crossorigin" not in answer.text


def test_hashed_files_are_kept_by_browsers_and_carry_the_security_headers(gateway: ServiceProcess) -> None:
    for path in _asset_paths(httpx.get(f"{gateway.url}/").text):
        answer = httpx.get(f"{gateway.url}{path}")
        assert answer.status_code == 200, path
        assert answer.headers["cache-control"] == "public, max-age=31536000, immutable", path
        assert "script-src 'self'" in answer.headers["content-security-policy"]
        assert answer.headers["x-content-type-options"] == "nosniff"
        kind = "javascript" if path.endswith(".js") else "css"
        assert kind in answer.headers["content-type"], (path, answer.headers["content-type"])


def test_files_outside_the_build_and_the_old_modules_are_not_served(gateway: ServiceProcess) -> None:
    assert httpx.get(f"{gateway.url}/ui/assets/no-such-file.js").status_code == 404
    assert httpx.get(f"{gateway.url}/static/relay.js").status_code == 404
    assert httpx.get(f"{gateway.url}/ui/index.html").headers["cache-control"] == "no-cache"

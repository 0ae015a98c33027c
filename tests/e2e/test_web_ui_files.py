"""The web UI's page is revalidated after every deploy; its content-hashed files are kept for good."""

import re

import httpx

from relay_stack.stack import Stack

KEPT = "public, max-age=31536000, immutable"


def test_page_is_revalidated_and_its_hashed_files_are_kept_and_a_missing_file_is_404(relay: Stack) -> None:
    page = httpx.get(f"{relay.gateway_url}/")
    assert page.status_code == 200 and page.headers["cache-control"] == "no-cache"
    assets = re.findall(r'(?:src|href)="(/ui/assets/[^"]+)"', page.text)
    assert any(path.endswith(".js") for path in assets) and any(path.endswith(".css") for path in assets)
    for path in assets:
        answer = httpx.get(f"{relay.gateway_url}{path}")
        assert answer.status_code == 200, path
        assert answer.headers["cache-control"] == KEPT, path
    assert httpx.get(f"{relay.gateway_url}/ui/assets/no-such-module.js").status_code == 404

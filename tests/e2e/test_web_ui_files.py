"""The web UI's page and modules are served so that a browser always revalidates them after a deploy."""

import httpx

from relay_stack.stack import Stack


def test_page_and_modules_are_revalidated_and_a_missing_file_is_404(relay: Stack) -> None:
    for path in ("/", "/static/relay.js", "/static/chat.js", "/static/relay.css"):
        response = httpx.get(f"{relay.gateway_url}{path}")
        assert response.status_code == 200, path
        assert response.headers["cache-control"] == "no-cache", path
    module = httpx.get(f"{relay.gateway_url}/static/relay.js")
    again = httpx.get(f"{relay.gateway_url}/static/relay.js", headers={"if-none-match": module.headers["etag"]})
    assert again.status_code == 304
    assert httpx.get(f"{relay.gateway_url}/static/no-such-module.js").status_code == 404

"""`python -m relay_notify`: serve the WebSocket and follow chat, issue and presence events."""

from relay_kit.service import run
from relay_notify.app import create_app
from relay_notify.settings import NotifySettings

if __name__ == "__main__":
    run(create_app, NotifySettings())

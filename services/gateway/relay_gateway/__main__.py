"""`python -m relay_gateway`: serve sign-in, the UI and the routes to every service."""

from relay_gateway.app import create_app
from relay_gateway.settings import GatewaySettings
from relay_kit.service import run

if __name__ == "__main__":
    run(create_app, GatewaySettings())

"""Relay's front door: staff sign-in, the web UI, and routing to the services."""

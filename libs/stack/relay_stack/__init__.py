"""Relay embedded: one command starts the broker, every service, the gateway and a demo tenant."""

"""Relay's door to customers: provider webhooks in, the customer directory, replies out."""

"""`python -m relay_ingest`: serve provider webhooks and the customer directory, and send replies."""

from relay_ingest.app import create_app
from relay_ingest.settings import IngestSettings
from relay_kit.service import run

if __name__ == "__main__":
    run(create_app, IngestSettings())

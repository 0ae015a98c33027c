"""`python -m relay_issues`: serve the issues API and consume customer messages, delivery status and staff events."""

from relay_kit.service import run

from relay_issues.app import create_app
from relay_issues.settings import IssuesSettings

if __name__ == "__main__":
    run(create_app, IssuesSettings())

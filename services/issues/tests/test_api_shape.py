"""Every answer of the issues API is declared: its OpenAPI document names the model of each route's reply."""

from relay_issues.app import create_app
from relay_issues.settings import IssuesSettings


def test_every_route_declares_its_answer_and_issue_answers_carry_status_label_and_colour(monkeypatch) -> None:
    monkeypatch.setenv("RELAY_JWT_SECRET", "issues-test-secret-of-at-least-32-bytes")
    spec = create_app(IssuesSettings()).openapi()
    undeclared = []
    for path, operations in spec["paths"].items():
        if not path.startswith("/api/issues"):
            continue
        for method, operation in operations.items():
            answers = {code: answer for code, answer in operation["responses"].items() if code.startswith("2")}
            named = [code == "204" or "$ref" in answer.get("content", {}).get("application/json", {}).get("schema", {})
                     for code, answer in answers.items()]
            if not answers or not all(named):
                undeclared.append(f"{method.upper()} {path}")
    assert not undeclared, f"routes whose answer is no declared model: {undeclared}"
    view = spec["components"]["schemas"]["IssueView"]
    assert {"status_label", "status_colour", "actions", "needs_attention", "assignee"} <= set(view["properties"])

"""Customer issues: every customer message becomes or joins an issue that staff assign, answer and close."""

"""`python -m relay_chat`: serve the chat API and keep the staff directory from staff.events."""

from relay_chat.app import create_app
from relay_chat.settings import ChatSettings
from relay_kit.service import run

if __name__ == "__main__":
    run(create_app, ChatSettings())

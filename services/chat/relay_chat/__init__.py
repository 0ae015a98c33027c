"""Staff chat: channels, private messages, unread state and where each user left off."""

"""Live pushes to staff browser tabs over WebSockets: chat and issue events, unread badges, presence, typing."""

"""The Telegram bot: the bridge's process, its commands, its HTTP endpoints and its workers."""

"""arq workers: outbox relay, confirmations, reminders, auto-release."""

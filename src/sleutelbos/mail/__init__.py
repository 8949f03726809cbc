"""Outgoing mail: an outbox in the database, delivered by a task, retried until the SMTP server takes it."""

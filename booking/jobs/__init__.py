"""Job plumbing: the transactional outbox relay, failed jobs and their command line."""

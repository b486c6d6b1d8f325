"""Bucket event notifications: the AWS S3 event message, the outbox delivery worker, the targets."""

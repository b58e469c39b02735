"""Archive consumer: each completed interview's full results and audio, kept in S3."""

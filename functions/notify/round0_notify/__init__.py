"""Notifications consumer: hiring-manager email and Slack message, once per ROUND0 event."""

"""Shared code of the ROUND0 webhook application, deployed as one Lambda layer."""

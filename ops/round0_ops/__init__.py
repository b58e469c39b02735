"""`round0-ops`: operate a round0-webhooks stack (deployed, or `round0-local serve`).

An operator tool: installed with the project, never part of a Lambda artifact.
"""

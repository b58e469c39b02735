"""Development tools: the Docker-free local pipeline and its helpers.

Imports the deployed code, never the other way round; nothing here is deployed.
"""

"""Local HTTP stand-ins for the services the functions call (development only).

Each binds 127.0.0.1 on a free port, records every request it receives and can be
told to answer with faults. Tests and the local runner use them; deployed code never
imports them.
"""

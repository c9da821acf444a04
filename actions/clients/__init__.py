"""Clients for the services the actions talk to."""

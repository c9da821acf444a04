"""The handoff service: the system of record for conversations handed to people, and the agents'
workplace (REST API, websocket, console). It imports nothing from Rasa."""

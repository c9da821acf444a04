"""The web chat channel: an embeddable widget talking to Rasa over a websocket."""

from connectors.webchat.channel import WebChatInput

__all__ = ["WebChatInput"]

"""Facebook Messenger connector: `connectors.messenger.MessengerInput` in credentials.yml."""

from connectors.messenger.input import MessengerInput

__all__ = ["MessengerInput"]

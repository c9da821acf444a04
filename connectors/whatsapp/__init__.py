"""WhatsApp Cloud API connector: `connectors.whatsapp.WhatsAppInput` in credentials.yml."""

from connectors.whatsapp.input import WhatsAppInput

__all__ = ["WhatsAppInput"]

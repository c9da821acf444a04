"""The bot side of customer erasure: `connectors.erasure.ErasureInput` in credentials.yml."""

from connectors.erasure.channel import ErasureInput

__all__ = ["ErasureInput"]

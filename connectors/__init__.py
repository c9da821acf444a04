"""Channel connectors: Rasa input channels plus outbound clients for each messaging channel."""

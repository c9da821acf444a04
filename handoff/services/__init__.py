"""The service layer: one module per area, each owning its transactions."""

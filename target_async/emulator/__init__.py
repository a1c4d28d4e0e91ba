"""Emulator of the Target Delivery API and the Decisioning repository API (placeholder, being built)."""

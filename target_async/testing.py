"""pytest plugin and test helpers for code that uses target_async (filled in with the emulator)."""

"""target_async: an asyncio-native SDK for Adobe Target."""

"""The sentiment provider: crypto news, social metrics and cross-venue derivatives analytics."""

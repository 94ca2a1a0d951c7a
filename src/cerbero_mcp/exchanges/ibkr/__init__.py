"""Interactive Brokers: Client Portal Web API with first-party OAuth 1.0a."""

"""IBKR Client Portal simulator: first-party OAuth 1.0a, the REST API and the market-data WebSocket."""

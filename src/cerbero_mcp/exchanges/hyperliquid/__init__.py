"""Hyperliquid: perpetuals and spot over /info and signed /exchange actions."""

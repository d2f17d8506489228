"""The Wyoming protocol adapter: events in, events out, nothing about models."""

"""Stores: one key/value contract, one implementation per back end."""

"""Placeholder: filled by its owner."""

commands: list = []

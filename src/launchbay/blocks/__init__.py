"""Blocks: typed configuration documents that save and load by name."""

from launchbay.blocks.core import Block, SecretStr

__all__ = ["Block", "SecretStr"]

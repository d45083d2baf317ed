"""Friendly generated names (``adjective-animal``) for runs without one."""

from __future__ import annotations

import random

ADJECTIVES = (
    "amber", "bold", "brave", "bright", "calm", "clever", "cosmic", "crisp", "daring",
    "eager", "fancy", "gentle", "golden", "happy", "humble", "jolly", "keen", "lively",
    "lucky", "merry", "mighty", "nimble", "noble", "placid", "quick", "quiet", "rapid",
    "robust", "shiny", "silver", "steady", "sunny", "swift", "tidy", "vivid", "witty",
)
ANIMALS = (
    "badger", "beaver", "bison", "cheetah", "coyote", "crane", "dingo", "dolphin",
    "eagle", "falcon", "ferret", "gazelle", "gecko", "heron", "ibis", "jackal",
    "koala", "lemur", "lynx", "marmot", "marten", "narwhal", "ocelot", "otter",
    "panda", "pelican", "puffin", "quokka", "raven", "salmon", "seal", "tapir",
    "toucan", "walrus", "wombat", "yak",
)


def generate_name() -> str:
    return f"{random.choice(ADJECTIVES)}-{random.choice(ANIMALS)}"

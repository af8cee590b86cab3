"""Brian2 edge target: the network as Brian2 groups and synapses, plus seeded device non-idealities.

Importing this package does not import Brian2; a run does.
"""

from .noise import EdgeNoise, NoiseSpecError
from .target import Brian2Program, Brian2Target

__all__ = ["Brian2Target", "Brian2Program", "EdgeNoise", "NoiseSpecError"]

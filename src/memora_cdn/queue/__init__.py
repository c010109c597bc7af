"""The plan queue: which plans need a rebuild, who is building them, what failed."""

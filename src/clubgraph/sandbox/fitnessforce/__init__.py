"""FitnessForce UFP sandbox server."""

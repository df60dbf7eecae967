"""Demo members (placeholder until the login issue lands)."""


def seed(rng, *, members: int) -> str:
    return "0 sociétaire"

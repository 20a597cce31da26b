"""The texts `bench/loadgen.py` submits, generated the same way (job i gets text i)."""

__all__ = ["load_texts"]

# Copied from bench/loadgen.py, so the ceiling runs exactly the texts the stacks run.
NAMES = ["Barack Obama", "Angela Merkel", "Ada Lovelace", "Alan Turing", "Grace Hopper", "Marie Curie"]
ORGS = ["Siemens", "Google", "Toyota", "the World Bank", "Microsoft", "Airbus", "Nestle"]
CITIES = ["Paris", "Berlin", "Tokyo", "Nairobi", "Lima", "Oslo", "Toronto", "Madrid"]


def load_texts(n: int) -> list[str]:
    return [
        f"{NAMES[i % len(NAMES)]} met executives of {ORGS[i % len(ORGS)]} "
        f"in {CITIES[i % len(CITIES)]} on day {i}."
        for i in range(n)
    ]

"""The deterministic pool of people the four sandbox servers bill.

Each source draws its clients from its own slice of one pool, and the slices
overlap, so that some people exist in several sources under the same email (as
happens when a club group runs different platforms at different locations).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime

# The sandbox's seeded history runs up to this instant; writes use the real clock.
SEED_NOW = datetime(2026, 10, 31, 12, 0, tzinfo=UTC)
SEED_START = datetime(2025, 1, 1, tzinfo=UTC)

_FIRST = [
    "Emma",
    "Liam",
    "Olivia",
    "Noah",
    "Ava",
    "Lucas",
    "Sophie",
    "Daan",
    "Mila",
    "Sem",
    "Julia",
    "Finn",
    "Zoe",
    "Levi",
    "Nora",
    "Milan",
    "Sara",
    "Jesse",
    "Eva",
    "Luuk",
    "Anna",
    "Bram",
    "Lotte",
    "Thijs",
    "Fleur",
    "Ruben",
    "Isa",
    "Lars",
    "Tess",
    "Jayden",
    "Maud",
    "Max",
    "Grace",
    "Owen",
    "Chloe",
    "Ethan",
    "Amelia",
    "Leo",
    "Harper",
    "Mason",
    "Aria",
    "Elijah",
    "Ella",
    "James",
    "Chiara",
    "Mateo",
    "Ingrid",
    "Sven",
    "Priya",
    "Arjun",
    "Yuki",
    "Kenji",
    "Amara",
    "Kofi",
    "Fatima",
    "Omar",
    "Lucia",
    "Pablo",
    "Zara",
    "Idris",
]
_LAST = [
    "de Jong",
    "Jansen",
    "de Vries",
    "van den Berg",
    "Bakker",
    "Visser",
    "Smit",
    "Meijer",
    "Mulder",
    "Bos",
    "Vos",
    "Peters",
    "Hendriks",
    "Dekker",
    "Brouwer",
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Garcia",
    "Miller",
    "Davis",
    "Martinez",
    "Lopez",
    "Wilson",
    "Anderson",
    "Taylor",
    "Thomas",
    "Moore",
    "Jackson",
    "O'Brien",
    "Nakamura",
    "Okafor",
    "Haddad",
    "Rossi",
    "Schneider",
    "Novak",
    "Kowalski",
    "Lindqvist",
    "Dubois",
    "Fernandes",
    "Patel",
    "Kim",
    "Nguyen",
    "Cohen",
]
_STREETS = [
    "Kerkstraat",
    "Dorpsstraat",
    "Molenweg",
    "Stationsweg",
    "Main Street",
    "Oak Avenue",
    "Elm Road",
    "Park Lane",
    "High Street",
    "Schoolstraat",
]
_CITIES = (
    "Amsterdam",
    "Utrecht",
    "Rotterdam",
    "Eindhoven",
    "Austin",
    "Denver",
    "Boston",
    "Portland",
    "Leeds",
    "Bristol",
)

POOL_SIZE = 300


@dataclass(frozen=True, slots=True)
class Person:
    index: int
    first_name: str
    last_name: str
    email: str
    phone: str
    street: str
    house_number: str
    zip_code: str
    city: str
    country_code: str
    birth_date: str  # YYYY-MM-DD

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}"


def _email_local(first: str, last: str) -> str:
    return (first + "." + last.replace(" ", "").replace("'", "")).lower()


def _zip(rnd: random.Random, country: str) -> str:
    if country == "NL":
        return f"{rnd.randrange(1000, 9999)} {rnd.choice('ABCDEFGH')}{rnd.choice('JKLMNPRS')}"
    return str(rnd.randrange(10000, 99999))


def _birth_date(rnd: random.Random) -> str:
    return f"{rnd.randrange(1955, 2008)}-{rnd.randrange(1, 13):02d}-{rnd.randrange(1, 29):02d}"


def people(seed: int = 7) -> list[Person]:
    """The whole pool, identical for identical seeds."""
    rnd = random.Random(f"people:{seed}")
    out: list[Person] = []
    for i in range(POOL_SIZE):
        first = rnd.choice(_FIRST)
        last = rnd.choice(_LAST)
        domain = rnd.choice(("example.com", "example.org", "example.net"))
        city_i = rnd.randrange(len(_CITIES))
        country = "NL" if city_i < 4 else ("US" if city_i < 8 else "GB")
        out.append(
            Person(
                index=i,
                first_name=first,
                last_name=last,
                email=f"{_email_local(first, last)}{i}@{domain}",
                phone=f"+31 6 {rnd.randrange(10_000_000, 99_999_999)}"
                if country == "NL"
                else f"+1 555 {rnd.randrange(1_000_000, 9_999_999)}",
                street=rnd.choice(_STREETS),
                house_number=str(rnd.randrange(1, 250)),
                zip_code=_zip(rnd, country),
                city=_CITIES[city_i],
                country_code=country,
                birth_date=_birth_date(rnd),
            )
        )
    return out


# Which people each source bills. The slices overlap, and people 0-4 are
# customers of every source, so cross-source identity has something to find.
SLICES: dict[str, range] = {
    "fitnessforce": range(0, 125),
    "timetap": range(110, 195),
    "clubcollect": range(185, 250),
    "tight": range(240, 300),
}
EVERYWHERE = range(0, 5)


def people_for(source: str, seed: int = 7) -> list[Person]:
    """The people one source bills, in a stable order."""
    pool = people(seed)
    wanted = list(EVERYWHERE) + [i for i in SLICES[source] if i not in EVERYWHERE]
    return [pool[i] for i in wanted]

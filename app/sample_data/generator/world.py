"""Brightwater Logistics' world: its staff, clients and lanes, the calendar, and the house style's formats.

Everything the sample's texts mention comes from here, so names, lanes and dates agree across the mailbox,
the reports, the tickets and the bookings.
"""

import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta

COMPANY = "Brightwater Logistics B.V."
ADDRESS = "Havenkade 114, 3089 KL Rotterdam, Netherlands"
SHIPSURE_URL = "https://shipsure.example.com"
FIRST_DAY, LAST_DAY = date(2025, 10, 1), date(2026, 3, 31)
# Central European Summer Time ends on the last Sunday of October.
SUMMER_TIME_ENDS = date(2025, 10, 26)


@dataclass(frozen=True)
class Staff:
    """A Brightwater coordinator who answers client mail."""

    first: str
    last: str
    title: str
    extension: str

    @property
    def name(self) -> str:
        """First and last name."""
        return f"{self.first} {self.last}"

    @property
    def address(self) -> str:
        """Their work email address."""
        return f"{self.first.lower()}.{self.last.lower().replace(' ', '')}@example.com"

    def signature(self) -> str:
        """The signature block under every mail they send (cut off by Lastmile's import)."""
        return (
            f"-- \n{self.name}\n{self.title} | {COMPANY}\n{ADDRESS}\nT +31 10 555 {self.extension}\n"
            f"Track your consignments on ShipSure: {SHIPSURE_URL}"
        )


STAFF = {
    "daan": Staff("Daan", "Kuipers", "Senior Client Care Coordinator", "0157"),
    "sanne": Staff("Sanne", "Verhoeven", "Client Care Coordinator", "0142"),
    "felix": Staff("Felix", "Okafor", "Cold Chain Coordinator", "0163"),
    "lotte": Staff("Lotte", "Jansen", "Client Care Coordinator", "0128"),
    "ruben": Staff("Ruben", "Visser", "Customs Coordinator", "0171"),
    "noor": Staff("Noor", "El Amrani", "Client Care Coordinator", "0136"),
}


@dataclass(frozen=True)
class Client:
    """A client company, the person who writes to Brightwater, and its usual lane."""

    company: str
    first: str
    last: str
    role: str
    domain: str
    origin: str  # where its goods are collected
    city: str  # where they are delivered (the client's DC or shop)
    country: str
    goods: str
    pallets: int  # a usual consignment
    temperature: str  # ambient | chilled | frozen | controlled
    route: str  # how the lane runs: the ferry or the road it depends on
    transit_days: int
    voice: str  # formal | casual | terse | plain (how the client writes)
    owner: str  # the coordinator who looks after the account

    @property
    def name(self) -> str:
        """The contact's full name."""
        return f"{self.first} {self.last}"

    @property
    def address(self) -> str:
        """The contact's email address."""
        last = self.last.lower().replace(" ", "")
        return f"{self.first.lower()}.{last}@{self.domain}"

    @property
    def lane(self) -> str:
        """E.g. 'Rotterdam–Trafford Park'."""
        return f"{self.origin}–{self.city}"

    @property
    def cold(self) -> bool:
        """Whether its consignments run temperature-controlled."""
        return self.temperature != "ambient"


CLIENTS = [
    Client("Oakridge Toys", "Tom", "Whitfield", "Head of Supply Chain", "example.org", "Rotterdam",
           "Trafford Park", "United Kingdom", "toys and games", 18, "ambient",
           "the Rotterdam–Felixstowe ferry", 2, "casual", "daan"),
    Client("Verdi & Co Grocers", "Giulia", "Bianchi", "Logistics Manager", "example.net", "Rotterdam",
           "Milan", "Italy", "cheese and chilled delicatessen", 8, "chilled",
           "the Gotthard road tunnel", 2, "plain", "felix"),
    Client("Nordlys Kitchen", "Ingrid", "Solberg", "Purchasing Lead", "example.org", "Rotterdam", "Oslo",
           "Norway", "cookware and kitchen textiles", 12, "ambient", "the Kiel–Oslo ferry", 3, "formal",
           "ruben"),
    Client("Kestrel Outdoor", "Owen", "Price", "Operations Manager", "example.org", "Venlo", "Cardiff",
           "United Kingdom", "tents and outdoor clothing", 14, "ambient", "the Hook of Holland–Harwich ferry",
           2, "terse", "lotte"),
    Client("Pinecrest Pet Supplies", "Rachel", "Okoye", "Supply Planner", "example.net", "Rotterdam",
           "Leeds", "United Kingdom", "pet food and accessories", 10, "ambient", "the Europoort–Hull ferry",
           2, "casual", "sanne"),
    Client("Casa Serena", "Lucía", "Ortega", "Import Coordinator", "example.net", "Rotterdam", "Valencia",
           "Spain", "home textiles", 16, "ambient", "the road through France", 3, "plain", "noor"),
    Client("Hollis & Vane Home", "Eleanor", "Hollis", "Director of Logistics", "example.org", "Venlo",
           "Avonmouth", "United Kingdom", "garden furniture", 12, "ambient", "the Rotterdam–Felixstowe ferry",
           2, "formal", "daan"),
    Client("Maison Lumière", "Camille", "Rousseau", "Responsable logistique", "example.net", "Eindhoven",
           "Lyon", "France", "lamps and lampshades", 6, "ambient", "the road through Luxembourg", 2, "plain",
           "noor"),
    Client("Fromagerie Duval", "Hugo", "Duval", "Gérant", "example.net", "Antwerp", "Rungis", "France",
           "cheese and frozen pastry", 10, "frozen", "the A1 motorway into Paris", 1, "terse", "felix"),
    Client("Alpenhof Sports", "Markus", "Huber", "Head of Logistics", "example.org", "Rotterdam", "Munich",
           "Germany", "skis and winter sports equipment", 20, "ambient", "the A3 motorway", 2, "formal",
           "lotte"),
    Client("Greenleaf Pharmacy", "Aoife", "Byrne", "Supply Chain Pharmacist", "example.net", "Rotterdam",
           "Dublin", "Ireland", "medicines and pharmacy stock", 6, "controlled",
           "the Rotterdam–Dublin ferry", 3, "formal", "felix"),
    Client("Vasa Design", "Elin", "Lindqvist", "Logistics Coordinator", "example.org", "Rotterdam",
           "Stockholm", "Sweden", "furniture", 14, "ambient", "the Trelleborg ferry", 3, "casual", "ruben"),
    Client("Kaffa Roasters", "Mateus", "Almeida", "Operations Lead", "example.net", "Antwerp", "Lisbon",
           "Portugal", "green coffee and roasted coffee", 18, "ambient", "the road through Spain", 4, "plain",
           "noor"),
    Client("Halden Electronics", "Piotr", "Nowak", "Warehouse Manager", "example.net", "Rotterdam", "Poznań",
           "Poland", "consumer electronics", 22, "ambient", "the A2 motorway through Germany", 2, "terse",
           "sanne"),
    Client("Thornbury Books", "Margaret", "Ellis", "Distribution Manager", "example.org", "Rotterdam",
           "Swindon", "United Kingdom", "books and stationery", 9, "ambient",
           "the Rotterdam–Felixstowe ferry", 2, "formal", "sanne"),
    Client("Brouwerij De Klok", "Bram", "de Wit", "Export Manager", "example.org", "Ghent", "Düsseldorf",
           "Germany", "bottled beer", 24, "ambient", "the A3 motorway", 1, "casual", "lotte"),
]  # fmt: skip


def weekday_date(day: date) -> str:
    """The house format for a day: 'Tue 14 Apr'."""
    return day.strftime("%a ") + str(day.day) + day.strftime(" %b")


def ordinal(number: int) -> str:
    """1st, 2nd, 3rd, 4th, ... 21st, 22nd."""
    suffix = "th" if 10 <= number % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(number % 10, "th")
    return f"{number}{suffix}"


def zone(day: date) -> str:
    """CEST before the end of summer time, CET after."""
    return "CEST" if day < SUMMER_TIME_ENDS else "CET"


def at(day: date, hour: int, minute: int = 0) -> str:
    """The house format for a moment: 'Tue 14 Apr, 15:00 CET'."""
    return f"{weekday_date(day)}, {hour:02d}:{minute:02d} {zone(day)}"


def is_working_day(day: date) -> bool:
    """Monday to Friday, outside the Christmas closure."""
    return day.weekday() < 5 and day not in (date(2025, 12, 25), date(2025, 12, 26), date(2026, 1, 1))


def working_days_after(day: date, count: int) -> date:
    """The working day `count` working days after `day`."""
    while count > 0:
        day += timedelta(days=1)
        count -= is_working_day(day)
    return day


def next_weekday(day: date, weekday: int) -> date:
    """The first day after `day` that falls on `weekday` (0 = Monday)."""
    day += timedelta(days=1)
    while day.weekday() != weekday:
        day += timedelta(days=1)
    return day


def random_working_day(rng: random.Random, first: date = FIRST_DAY, last: date = LAST_DAY) -> date:
    """A working day between `first` and `last`."""
    while True:
        day = first + timedelta(days=rng.randrange((last - first).days + 1))
        if is_working_day(day):
            return day


def moment(rng: random.Random, day: date, earliest: int = 8, latest: int = 17) -> datetime:
    """A time of day on `day` within office hours."""
    return datetime(day.year, day.month, day.day, rng.randint(earliest, latest - 1), rng.randrange(60),
                    rng.randrange(60))  # fmt: skip


def money(amount: float) -> str:
    """The house format for euros: '€1,240.00'."""
    return f"€{amount:,.2f}"


class Numbers:
    """Reference numbers that grow with time, as a real system hands them out."""

    def __init__(self, rng: random.Random) -> None:
        """Start every series at a plausible value."""
        self.rng = rng
        self.series = {"BW": 50000, "CLM": 3200, "BWI": 11800, "CN": 770, "Q": 100}

    def next(self, prefix: str, step: int = 40) -> str:
        """The next number of a series, e.g. 'BW-51950'."""
        self.series[prefix] += self.rng.randint(1, step)
        if prefix == "Q":
            return f"Q-2026-{self.series[prefix]:03d}"
        return f"{prefix}-{self.series[prefix]}"


def working_days_before(day: date, count: int) -> date:
    """The working day `count` working days before `day`."""
    while count > 0:
        day -= timedelta(days=1)
        count -= is_working_day(day)
    return day

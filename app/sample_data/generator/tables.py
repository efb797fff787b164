"""The support-ticket classification table (csv) and the booking-extraction examples (jsonl)."""

import json
import random
from datetime import date

from app.sample_data.generator.world import CLIENTS, random_working_day, working_days_after

CATEGORIES = ("Delay", "Damage", "Billing", "Customs", "Booking")
BOOKING_INSTRUCTION = "Extract the booking details as JSON"
# The ticket left without a category (a deliberate flaw for the health panel).
UNLABELLED = (
    "The labels on one pallet were unreadable and it went to our old address. Can you collect it and bring "
    "it to the new DC?"
)

_TICKETS = {
    "Delay": (
        "Our {n} pallets for the {city} warehouse were due yesterday at 14:00 and ShipSure still shows "
        "them in "
        "{origin}. When will they arrive?",
        "Truck still not here. Our slot was 09:00 and it's now 11:30, and nobody is answering at the depot.",
        "The delivery to our {city} shop is two days late and customers are waiting for their pre-orders. "
        "What "
        "is happening?",
        "ETA in ShipSure has moved three times today for {ref}. Is it coming or not?",
        "Ferry cancelled again? {ref} should have been here this morning.",
        "Our promotion starts Monday and {ref} is still not delivered.",
        "Driver called to say he is stuck at the border with {ref}. How long will it take?",
        "Second late delivery this week to {city}. Please tell us when {ref} will arrive.",
    ),
    "Damage": (
        "Two cartons arrived crushed and the {goods} inside are broken. We wrote it on the CMR and took "
        "photos. "
        "How do we claim?",
        "Pallet wrap was torn on arrival and three boxes on the bottom layer are wet. Noted on the CMR, "
        "photos "
        "attached.",
        "A forklift went through one of the cartons on {ref}. Who pays for this?",
        "{ref} arrived with the pallet leaning badly, half the top layer is damaged.",
        "The temperature log shows {ref} at 9 °C for an hour. The cheese is rejected by our QA.",
        "Water damage on four cartons of {ref}, the trailer roof must be leaking.",
        "Glass items broken in transit on {ref}. Photos attached, please open a claim.",
    ),
    "Billing": (
        "Invoice {inv} charges us for a tail-lift, but we have a dock at that address and never asked for "
        "one. "
        "Please check.",
        "We were charged twice for the same consignment in February, once as {ref} and once as {ref}A.",
        "Why is the fuel surcharge on this month's invoice higher than the one in our quote?",
        "Waiting time of two hours on {inv}? Your driver was late, not us.",
        "Our Brightwater Promise credit for {ref} is not on the invoice.",
        "Can you send invoice {inv} again with our new VAT number on it?",
        "The pallet count on {inv} is 14 but we only sent 12.",
    ),
    "Customs": (
        "The driver says our goods are held at customs in Felixstowe. Which documents are missing and who "
        "needs "
        "to send them?",
        "Norwegian customs are asking for our organisation number again. Didn't we send this with the last "
        "consignment?",
        "Do we need an EORI number for the UK deliveries from next month?",
        "{ref} is held in Harwich for a plant health check. What do we need to send?",
        "Customs in Oslo want the commercial invoice for {ref}. It was attached to the booking.",
        "Who files the pre-notification for our UK consignments with wooden packaging?",
        "What commodity code should we use for the {goods} going to the UK?",
    ),
    "Booking": (
        "Can we book {n} pallets from your Rotterdam warehouse to our shop in Ghent for Thursday morning? No "
        "tail-lift needed.",
        "Please add a second collection next Tuesday, {n} pallets, same supplier address in Venlo as usual.",
        "We need a refrigerated load of cheese to Milan, {n} pallets at 2-6 °C, collection on 3 March. Can "
        "you "
        "book it?",
        "Can you move our Friday collection to Monday? The goods won't be ready.",
        "Please cancel {ref}, our customer cancelled the order.",
        "Booking request: {n} pallets {origin} to {city}, collection {when}.",
        "Is there still space on Thursday's trailer to {city}? About {n} pallets.",
    ),
}


def tickets(rng: random.Random) -> list[tuple[str, str]]:
    """(text, category) rows: every ticket template once with its details filled in, one left unlabelled."""
    rows = []
    for category, texts in _TICKETS.items():
        for text in texts:
            client = rng.choice(CLIENTS)
            filled = text.format(
                n=rng.randint(2, 24), city=client.city, origin=client.origin, goods=client.goods,
                ref=f"BW-{rng.randint(50100, 55900)}", inv=f"BWI-{rng.randint(11800, 12600)}",
                when=rng.choice(("Tuesday", "next Monday", "the 14th", "Thursday morning")),
            )  # fmt: skip
            rows.append((filled, category))
    rng.shuffle(rows)
    rows.insert(9, (UNLABELLED, ""))
    return rows


_PICKUPS = (
    ("our supplier in Venlo (Industrieweg 40)", "Venlo, Netherlands"),
    ("your Rotterdam warehouse", "Rotterdam, Netherlands"),
    ("the Rotterdam cold store", "Rotterdam, Netherlands"),
    ("our bakery partner in Antwerp", "Antwerp, Belgium"),
    ("our supplier in Eindhoven", "Eindhoven, Netherlands"),
    ("the brewery in Ghent", "Ghent, Belgium"),
    ("our consolidation centre in Tilburg", "Tilburg, Netherlands"),
)
_DROPS = (
    ("our DC in Avonmouth, Bristol", "Bristol, United Kingdom"),
    ("our warehouse in Milano", "Milan, Italy"),
    ("our Lyon warehouse", "Lyon, France"),
    ("our new DC in Leeds", "Leeds, United Kingdom"),
    ("our stand at Rungis, near Paris", "Paris, France"),
    ("the shop in Munich", "Munich, Germany"),
    ("our pharmacy warehouse in Dublin", "Dublin, Ireland"),
    ("the Valencia store", "Valencia, Spain"),
    ("our Poznań warehouse", "Poznań, Poland"),
    ("the Oslo showroom", "Oslo, Norway"),
)
_GOODS = (
    ("garden furniture", False), ("cheese", True), ("lamps and shades", False), ("dog beds and bowls", False),
    ("frozen croissants and pastries at -18 °C", True), ("ski boots", False), ("medicines at 15-25 °C", True),
    ("bed linen", False), ("televisions", False), ("kitchen textiles", False), ("chilled ready meals", True),
)  # fmt: skip
_ASKS = (
    "Please book {n} pallets of {goods} from {pickup} to {drop}. Collection on {day}, any time after 08:00.",
    "We need the next truck: {n} pallets of {goods} from {pickup} to {drop}. Pickup {day} please.",
    "Could you collect {n} pallets of {goods} at {pickup} on {day} and deliver them to {drop}?",
    "Can you arrange a collection on {day} from {pickup}? It's {n} pallets of {goods} for {drop}.",
    "Booking: {goods}, {n} pallets. From {pickup}, to {drop}. Ready for collection {day}.",
)


def _spoken_day(rng: random.Random, day: date) -> str:
    """A pickup day the way people write it in an email."""
    return rng.choice(
        (
            f"{day.strftime('%A')} {day.day} {day.strftime('%B %Y')}",
            f"{day.day} {day.strftime('%B %Y')}",
            f"{day.strftime('%A')} the {day.day}{'th' if day.day not in (1, 2, 3, 21, 22, 23, 31) else ''} "
            f"of {day.strftime('%B %Y')}",
        )
    ).replace("the 1th", "the 1st")


def bookings(rng: random.Random, count: int) -> list[str]:
    """JSON lines: a client's booking request → the fields Brightwater's planners key in."""
    lines = []
    for _ in range(count):
        client = rng.choice(CLIENTS)
        pickup, origin = rng.choice(_PICKUPS)
        drop, destination = rng.choice(_DROPS)
        goods, cold = rng.choice(_GOODS)
        day = working_days_after(random_working_day(rng), 2)
        n = rng.randint(2, 26)
        ask = rng.choice(_ASKS).format(n=n, goods=goods, pickup=pickup, drop=drop, day=_spoken_day(rng, day))
        if cold and "°C" not in goods:
            ask += rng.choice(
                (" At 2-6 degrees as usual.", " Chilled, 2-6 °C.", " Temperature controlled please.")
            )
        elif not cold:
            ask += rng.choice((" Standard ambient, nothing fragile.", " No special handling needed.", ""))
        text = f"Hi Brightwater desk,\n\n{ask}\n\nThanks,\n{client.name}\n{client.company}"
        fields = {"origin": origin, "destination": destination, "pallets": n,
                  "pickup_date": day.isoformat(), "temperature_controlled": cold}  # fmt: skip
        row = {"instruction": BOOKING_INSTRUCTION, "input": text, "output": json.dumps(fields)}
        lines.append(json.dumps(row,
                                ensure_ascii=False))  # fmt: skip
    return lines

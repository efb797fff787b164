"""Client mail about things that went wrong, and Brightwater's house-style answers: delays, damage, missing
pallets, customs holds, temperature alarms and complaints."""

import random
from dataclasses import dataclass
from datetime import date

from app.sample_data.generator.house_style import DESK_CLOSING, Incoming, Reply
from app.sample_data.generator.world import (
    Client,
    Numbers,
    Staff,
    at,
    money,
    ordinal,
    weekday_date,
    working_days_after,
    working_days_before,
)


@dataclass
class Case:
    """What a scenario needs: randomness, the client, the day they wrote, and the number series."""

    rng: random.Random
    client: Client
    staff: Staff
    day: date
    numbers: Numbers

    def pick(self, *options: str) -> str:
        """One of `options`."""
        return self.rng.choice(options)

    def said(self, day: date) -> str:
        """A day the way this client writes it (only Brightwater uses its 'Tue 14 Apr' format)."""
        voice = self.client.voice
        if voice == "terse":
            return f"{day.day}/{day.month}"
        if voice == "casual":
            return f"{day:%A} the {ordinal(day.day)}"
        return f"{day:%A} {day.day} {day:%B}" if voice == "formal" else f"{day.day} {day:%B}"

    def pallets(self, low: float = 0.5, high: float = 1.3) -> int:
        """A plausible pallet count around the client's usual consignment."""
        return max(1, round(self.client.pallets * self.rng.uniform(low, high)))


_FERRY_CAUSES = (
    "the {route} sailing of {day} was cancelled because of gale-force winds in the North Sea",
    "the {route} sailing of {day} was overbooked and your trailer was rolled to the next departure",
    "a technical fault on the vessel held the {route} departure of {day} in port for nine hours",
    "fog closed the port on {day}, so {route} sailed with a delay of almost a day",
)
_ROAD_CAUSES = (
    "a lorry accident closed {route} for most of {day}, and our driver was held in the queue",
    "our truck had a gearbox failure on {day}; a replacement tractor unit took five hours to reach it",
    "our driver reached his legal driving hours after long queues on {route} on {day} and had to take "
    "his rest before continuing",
    "roadworks and a full closure at night on {route} on {day} cost the trailer most of a day",
)
_WINTER_CAUSES = (
    "snow closed {route} on {day}, and the police kept lorries parked until it was cleared",
    "black ice and a lorry ban on {route} on {day} stopped every truck on the lane for the night",
)
_PRESSURE = (
    ("Our stores are running short.", "your stores are waiting for the stock"),
    ("We have a promotion starting on {promo}.", "the promotion starting on {promo} depends on it"),
    ("Customers are waiting for their pre-orders.", "your customers are waiting for their pre-orders"),
    ("Our warehouse team has been standing by since this morning.", "your warehouse team was standing by"),
    ("", ""),
)


def delay(case: Case) -> tuple[Incoming, Reply]:
    """A consignment is late; the client asks where it is."""
    c, rng = case.client, case.rng
    ref, pallets = case.numbers.next("BW"), case.pallets()
    due = case.day
    causes = _FERRY_CAUSES if "ferry" in c.route else _ROAD_CAUSES
    if c.route.startswith("the Gotthard") or (c.route.endswith("motorway") and due.month in (12, 1, 2)):
        causes = causes + _WINTER_CAUSES
    cause = rng.choice(causes).format(route=c.route, day=weekday_date(working_days_before(due, 1)))
    new_day = working_days_after(due, 1)
    hour = rng.choice((8, 9, 10, 11, 13, 14, 15))
    promo = weekday_date(working_days_after(due, 3))
    pressure, acknowledged = (p.format(promo=promo) for p in rng.choice(_PRESSURE))
    question = case.pick(
        f"Our consignment {ref} to {c.city} was due today and ShipSure still shows it at {c.origin}. "
        "When will it arrive?",
        f"Where is {ref}? It should have been in {c.city} this morning and nobody has told us anything.",
        f"We were expecting {pallets} pallets of {c.goods} today but nothing has turned up in {c.city}. "
        f"Can you tell me what is going on with {ref}?",
        f"ShipSure has shown {ref} as 'in transit' since yesterday with no new scan. Is it still coming "
        "today?",
    )
    subject = case.pick(
        f"Where is {ref}?", f"{ref} not delivered", f"Late delivery {c.city}", f"{ref} delay?"
    )
    promise = (
        " The consignment was reserved, so the Brightwater Promise credit of "
        f"{money(rng.choice((95, 120, 142, 180)))} "
        "is applied to your next invoice automatically."
        if rng.random() < 0.45
        else ""
    )
    sorry = f" We are sorry for this: we know {acknowledged}." if acknowledged else ""
    stands = f"{ref} ({pallets} pallets of {c.goods}) is late because {cause}.{sorry}{promise}"
    doing = [
        case.pick(
            f"The trailer is now on its way and due in {c.city} on {weekday_date(new_day)}.",
            f"We have booked the trailer on the first departure we could get, and it is due in {c.city} "
            f"on {weekday_date(new_day)}.",
        ),
        f"We have moved your delivery slot in {c.city} to {weekday_date(new_day)}, "
        f"{hour:02d}:00–{hour + 2:02d}:00.",
    ]
    if rng.random() < 0.5:
        doing.append(
            "Your Brightwater desk checks the trailer's position every two hours until it is delivered."
        )
    ask = case.pick(
        f"please confirm the new slot with your warehouse by {at(due, 16)}.",
        f"please tell us by {at(due, 17)} if the goods should go to another address.",
        "",
    )
    incoming = Incoming(subject, f"{question} {pressure}".strip())
    topic = case.pick(
        f"the delay on {ref}", f"consignment {ref} to {c.city}", f"the late delivery to {c.city}"
    )
    return incoming, Reply(topic, stands, doing, ask or None, at(new_day, hour + 1))


_DAMAGE = (
    ("cartons arrived crushed on one corner of the pallet", "crushed cartons"),
    ("the pallet wrap was torn and the bottom layer is wet", "wet cartons"),
    ("one pallet had collapsed and several boxes were split open", "collapsed pallet"),
    ("a forklift tine went through two cartons", "pierced cartons"),
)


def damage(case: Case) -> tuple[Incoming, Reply]:
    """Goods arrived damaged; the client asks how to claim."""
    c, rng = case.client, case.rng
    ref, claim = case.numbers.next("BW"), case.numbers.next("CLM")
    what, short = rng.choice(_DAMAGE)
    cartons = rng.randint(2, 9)
    delivered = working_days_before(case.day, 1)
    noted = rng.random() < 0.7
    question = (
        f"Consignment {ref} was delivered to {c.city} on {case.said(delivered)} and {what}. "
        f"{cartons} cartons of {c.goods} are not sellable. "
        + (
            "We wrote it on the CMR and took photos. "
            if noted
            else "The driver had already left when we saw it. "
        )
        + case.pick(
            "How do we claim?", "What do you need from us to settle this?", "Please advise how to proceed."
        )
    )
    subject = case.pick(f"Damage on {ref}", f"Claim {ref} - damaged goods", f"Damaged delivery {c.city}")
    stands = f"we have opened claim {claim} for {cartons} damaged cartons on {ref}. " + (
        "Because the damage is noted on the CMR, the claim can be settled without an inspection."
        if noted
        else "The damage is not noted on the CMR, so we will ask our driver for his delivery photos first; "
        "that adds a few days, but it does not stop the claim."
    )
    settle = working_days_after(case.day, rng.choice((5, 7, 10)))
    doing = [
        f"Claim {claim} is with our insurer, and we expect to settle it by {weekday_date(settle)}.",
        case.pick(
            "We are checking how the pallet was loaded at our warehouse, so it does not happen again.",
            f"We have asked the depot that handled {ref} for its loading photos.",
        ),
    ]
    ask = case.pick(
        "please send us the photos and the value of the damaged cartons (your purchase price) "
        f"by {at(working_days_after(case.day, 3), 17)}.",
        f"please send the photos, a copy of the CMR and your invoice for the goods by "
        f"{at(working_days_after(case.day, 3), 17)}.",
    )
    incoming = Incoming(subject, question)
    return incoming, Reply(f"the {short} on {ref}", stands, doing, ask, closing=DESK_CLOSING)


def missing_pallet(case: Case) -> tuple[Incoming, Reply]:
    """A pallet is short or went to the wrong address."""
    c, rng = case.client, case.rng
    ref, pallets = case.numbers.next("BW"), case.pallets(0.8, 1.4)
    wrong = rng.random() < 0.5
    question = (
        f"The labels on one pallet of {ref} were unreadable and it went to our old address. "
        f"Can you collect it and bring it to the {c.city} warehouse?"
        if wrong
        else f"We received {pallets - 1} pallets of {ref} instead of {pallets}. The CMR says {pallets}. "
        "Where is the last one?"
    )
    subject = case.pick(f"{ref} one pallet missing", f"Pallet short on {ref}", f"Missing pallet {c.city}")
    when = working_days_after(case.day, 1)
    hour = rng.choice((9, 10, 13, 14))
    if wrong:
        stands = (
            f"the pallet was scanned at your old address on {weekday_date(case.day)}; the driver had the old "
            "address on his delivery list because the label could not be read."
        )
        doing = [f"We collect the pallet tomorrow and deliver it to {c.city} on {weekday_date(when)}.",
                 "We have updated your delivery address on every open booking."]  # fmt: skip
    else:
        stands = (
            f"the last pallet of {ref} was left behind at our cross-dock because it was booked under the "
            "next consignment's number. It is found and complete."
        )
        doing = [f"It goes out on tonight's trailer and reaches {c.city} on {weekday_date(when)}.",
                 "There is no charge for the extra delivery."]  # fmt: skip
    ask = case.pick(f"please confirm someone can receive it on {weekday_date(when)} from {hour:02d}:00.", "")
    topic = f"the missing pallet on {ref}" if not wrong else f"the pallet of {ref} at your old address"
    return Incoming(subject, question), Reply(topic, stands, doing, ask or None, at(when, hour + 1))


_DOCUMENTS = {
    "United Kingdom": (
        ("the commercial invoice", "the commercial invoice for the goods"),
        ("your EORI number", "the importer's EORI number"),
        ("the preference statement on the invoice", "a statement of origin on the commercial invoice"),
    ),
    "Norway": (
        ("your organisation number", "the receiver's Norwegian organisation number"),
        ("the commercial invoice", "the commercial invoice for the goods"),
    ),
}
_BORDERS = {"United Kingdom": ("Felixstowe", "Harwich", "Hull"), "Norway": ("Oslo",)}


def customs_hold(case: Case) -> tuple[Incoming, Reply]:
    """Goods are held at customs; the client asks what is missing."""
    c, rng = case.client, case.rng
    country = c.country if c.country in _DOCUMENTS else "United Kingdom"
    border = next((port for port in _BORDERS[country] if port in c.route), _BORDERS[country][0])
    ref = case.numbers.next("BW")
    short, long = rng.choice(_DOCUMENTS[country])
    question = case.pick(
        f"The driver says {ref} is held at customs in {border}. Which documents are missing and who needs "
        "to send them?",
        f"Customs at {border} are asking for {short} again for {ref}. Didn't we send this with the last "
        "consignment?",
        f"{ref} is stuck at {border}. Our customers are waiting. What do you need from us?",
    )
    subject = case.pick(f"Customs hold {ref}", f"{ref} held at {border}", "Customs again?")
    stands = f"{ref} is held at {border} because the customs declaration is missing {long}. " + case.pick(
        "It was on the last consignment's file, but customs need it on every declaration.",
        "Our customs team saw it at 07:30 this morning and called the broker straight away.",
    )
    release = working_days_after(case.day, 1)
    doing = [
        f"Our customs desk lodges the corrected declaration as soon as we have {short}.",
        case.pick(
            f"We have kept the trailer's slot on the first delivery run after release, so it can reach "
            f"{c.city} on {weekday_date(release)}.",
            f"We have saved {short} on your account, so the next declarations carry it automatically.",
        ),
    ]
    ask = f"please email {short} to your Brightwater desk by {at(case.day, 15)}."
    return Incoming(subject, question), Reply(f"the customs hold on {ref}", stands, doing, ask,
                                              at(release, rng.choice((10, 13, 15))))  # fmt: skip


def temperature(case: Case) -> tuple[Incoming, Reply]:
    """A chilled or frozen consignment: an alarm, or a request for the temperature log."""
    c, rng = case.client, case.rng
    ref = case.numbers.next("BW")
    band = {"chilled": "2–6 °C", "frozen": "-18 °C", "controlled": "15–25 °C"}.get(c.temperature, "2–6 °C")
    reading = {"chilled": "4.1 °C", "frozen": "-19.2 °C", "controlled": "18.6 °C"}.get(
        c.temperature, "4.1 °C"
    )
    alarm = rng.random() < 0.5
    question = (
        f"ShipSure sent us a temperature alert for {ref} an hour ago. Is the load still at {band}? "
        "We cannot accept it otherwise."
        if alarm
        else f"Our quality team needs the temperature log for {ref} before they release the goods. "
        "Can you send it today?"
    )
    subject = (
        f"Temperature alert {ref}" if alarm else case.pick(f"Temp log {ref}", f"Temperature log for {ref}")
    )
    stands = (
        f"the alert on {ref} came from a door sensor while the driver changed trailers; the load itself "
        f"stayed within {band} (highest reading {reading})."
        if alarm
        else f"the log for {ref} is complete: the load stayed within {band} from collection to delivery, "
        f"with a highest reading of {reading}."
    )
    doing = (
        ["Felix from our Cold Chain desk has checked the full log minute by minute.",
         "The log is attached to the consignment in ShipSure as a PDF."]
        if alarm
        else ["The log is attached to this email and to the consignment in ShipSure.",
              "From now on, the log is added to every one of your cold consignments at delivery."]
    )  # fmt: skip
    eta = at(working_days_after(case.day, 1), rng.choice((7, 8, 9))) if alarm else None
    topic = f"the temperature alert on {ref}" if alarm else f"the temperature log for {ref}"
    return Incoming(subject, question), Reply(topic, stands, doing, None, eta)


def complaint(case: Case) -> tuple[Incoming, Reply]:
    """The client is unhappy with a driver or with how Brightwater kept them informed."""
    rng = case.rng
    ref = case.numbers.next("BW")
    about_driver = rng.random() < 0.5
    question = (
        f"Your driver on {ref} refused to wait ten minutes for a free dock and left with the goods. "
        "That is not acceptable."
        if about_driver
        else f"Third time this month we only heard about a delay when we called you. On {ref} nobody told "
        "us anything until the afternoon."
    )
    subject = case.pick("Complaint", f"Complaint about {ref}", "Not happy")
    call = working_days_after(case.day, rng.choice((1, 2)))
    stands = (
        f"our driver on {ref} left because his next collection was booked too tightly behind yours. That "
        "was our planning, not your warehouse, and we are sorry."
        if about_driver
        else f"the delay on {ref} showed in our planning at 09:10, and we only told you at 15:30. You are "
        "right that this is not the service we promise, and we are sorry."
    )
    doing = (
        [f"We deliver {ref} again on {weekday_date(call)} at no charge.",
         "Your collections are now planned with a 45-minute buffer after each delivery."]
        if about_driver
        else ["Every delay on your account now sends a ShipSure alert to you as soon as we see it.",
              f"{case.staff.first} will call you on {weekday_date(call)} to go through the last month."]
    )  # fmt: skip
    ask = (
        None
        if about_driver
        else f"please tell us which of your team should get the alerts by {at(call, 12)}."
    )
    return Incoming(subject, question), Reply(
        f"what happened with {ref}", stands, doing, ask, closing=DESK_CLOSING
    )


PROBLEMS = {
    "delay": (delay, 30),
    "damage": (damage, 14),
    "missing": (missing_pallet, 8),
    "customs": (customs_hold, 10),
    "temperature": (temperature, 6),
    "complaint": (complaint, 5),
}

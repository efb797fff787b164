"""Client mail asking for something, and Brightwater's house-style answers: quotes, booking changes,
invoice questions, peak capacity, proof of delivery, ShipSure access, holiday cut-offs, storage, thanks."""

from datetime import date

from app.sample_data.generator.house_style import (
    DESK_CLOSING,
    SHIPSURE_CLOSING_MANY,
    Incoming,
    Reply,
)
from app.sample_data.generator.problems import Case
from app.sample_data.generator.world import (
    at,
    money,
    next_weekday,
    weekday_date,
    working_days_after,
    working_days_before,
)

_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday")


def quote(case: Case) -> tuple[Incoming, Reply]:
    """A price for extra or new volume."""
    c, rng = case.client, case.rng
    quote_ref = case.numbers.next("Q", 3)
    weekly = case.pallets(0.6, 1.6)
    rate = rng.choice((68, 74, 79, 85, 92, 104, 118, 126)) + (22 if c.cold else 0)
    start = next_weekday(working_days_after(case.day, 5), 0)
    question = case.pick(
        f"We are moving more volume to {c.city} from next month, about {weekly} pallets a week from "
        f"{c.origin}. Could you send us a price per pallet and the transit time?",
        f"Can you quote {weekly} pallets a week {c.origin} to {c.city}, starting {case.said(start)}? "
        "Ideally with a fixed collection day.",
        f"We are looking at a second weekly departure to {c.city}, roughly {weekly} pallets. What would "
        "that cost us, and how quickly can you start?",
    )
    subject = case.pick(f"Quote {c.origin}-{c.city}", "Price request extra volume", f"Rates for {c.city}")
    fixed_day = rng.choice(_DAYS)
    stands = (
        f"we can take {weekly} pallets a week from {c.origin} to {c.city} at {money(rate)} per pallet, "
        f"all-in except the fuel surcharge. Transit is {c.transit_days} working "
        f"day{'s' if c.transit_days > 1 else ''} via {c.route}, with a fixed collection every {fixed_day}."
    )
    doing = [
        f"Quote {quote_ref} is attached; it is valid until {weekday_date(working_days_after(case.day, 20))}.",
        f"We are holding the space from {weekday_date(start)} for you until then.",
    ]
    if c.cold:
        doing.append("Every pallet runs in our Cold Chain trailers, with the temperature log in ShipSure.")
    ask = f"please confirm quote {quote_ref} by {at(working_days_after(case.day, 5), 17)} so we can start on "
    ask += f"{weekday_date(start)}."
    return Incoming(subject, question), Reply(
        f"a price for {c.city}", stands, doing, ask, closing=DESK_CLOSING
    )


def booking_change(case: Case) -> tuple[Incoming, Reply]:
    """Move, add to or cancel a booked collection."""
    c, rng = case.client, case.rng
    ref = case.numbers.next("BW")
    pallets, extra = case.pallets(), rng.randint(2, 8)
    booked = working_days_after(case.day, rng.choice((1, 2, 3)))
    moved = working_days_after(booked, rng.choice((1, 2)))
    kind = rng.choice(("add", "move", "move", "cancel"))
    if kind == "add":
        question = f"Can we add {extra} pallets to {ref} on {case.said(booked)}? Same supplier address."
        stands = (
            f"{ref} now has {pallets + extra} pallets for collection at {c.origin} on "
            f"{weekday_date(booked)}; "
            "there was room on the same trailer, so the extra pallets cost the usual rate and nothing more."
        )
        doing = ["The updated booking is in ShipSure.", "The driver has the new pallet count on his list."]
        eta, topic = at(working_days_after(booked, c.transit_days), 14), f"extra pallets on {ref}"
    elif kind == "move":
        question = case.pick(
            f"Our supplier is not ready. Can you move the collection of {ref} from {case.said(booked)} to "
            f"{case.said(moved)}?",
            f"Please push {ref} back to {case.said(moved)}, the goods will not be packed in time.",
        )
        stands = f"the collection of {ref} is moved from {weekday_date(booked)} to {weekday_date(moved)}."
        doing = [
            "The driver and your supplier have the new day.",
            f"The delivery in {c.city} moves with it, to "
            f"{weekday_date(working_days_after(moved, c.transit_days))}.",
        ]
        eta, topic = at(working_days_after(moved, c.transit_days), 11), f"moving the collection of {ref}"
    else:
        question = f"Please cancel {ref} ({case.said(booked)}), the order was cancelled by our customer."
        free = booked > working_days_after(case.day, 1)
        stands = f"{ref} is cancelled. " + (
            "You told us more than a working day ahead, so there is no cancellation fee."
            if free
            else f"Because the truck was already planned, a cancellation fee of {money(65)} applies."
        )
        doing = [
            "The booking is closed in ShipSure.",
            "Your supplier has been told not to expect the driver.",
        ]
        eta, topic = None, f"cancelling {ref}"
    subject = case.pick(f"Change to {ref}", f"{ref}", f"Booking {ref} - change")
    return Incoming(subject, question), Reply(topic, stands, doing, None, eta)


_CHARGES = (
    ("a tail-lift charge", "the tail-lift charge", 45.0,
     "we have a dock at that address and never asked for one"),
    ("waiting time of two hours", "the waiting-time charge", 90.0, "the driver arrived after our slot"),
    ("the fuel surcharge at 14.5%", "the fuel surcharge", 0.0, "our quote said 12%"),
    ("the same consignment twice", "the double charge", 0.0, "it shows up once as {ref} and once as {ref}A"),
)  # fmt: skip


def invoice(case: Case) -> tuple[Incoming, Reply]:
    """A question about a charge on an invoice."""
    rng = case.rng
    number, ref, credit = case.numbers.next("BWI"), case.numbers.next("BW"), case.numbers.next("CN", 6)
    charged, name, amount, reason = rng.choice(_CHARGES)
    reason = reason.format(ref=ref)
    question = case.pick(
        f"Invoice {number} charges us for {charged} on {ref}, but {reason}. Please check.",
        f"Could you look at {number}? There is {charged} on {ref} and {reason}.",
    )
    subject = case.pick(f"Invoice {number}", f"Query on invoice {number}", f"{number} wrong?")
    if name == "the fuel surcharge":
        stands = (
            f"the surcharge on {number} follows the diesel index of the month, which rose to 14.5%; your "
            "quote "
            "showed the rate of the month it was made. The charge is correct, but we should have explained "
            "it."
        )
        doing = ["Your invoices now show the diesel index of the month beside the surcharge.",
                 "The index for next month is published in ShipSure on the 25th."]  # fmt: skip
        ask = None
    else:
        value = amount or float(rng.choice((480, 612, 745, 890)))
        stands = f"you are right: {name} on {ref} should not be on {number}. We are sorry for the extra work."
        doing = [f"Credit note {credit} for {money(value)} is attached.",
                 "We have corrected your account so it does not happen again."]  # fmt: skip
        ask = None
    return Incoming(subject, question), Reply(f"invoice {number}", stands, doing, ask, closing=DESK_CLOSING)


_PEAKS = {12: "Christmas", 11: "Christmas", 10: "Christmas", 3: "Easter", 2: "Easter", 1: "the January sales"}


def peak_capacity(case: Case) -> tuple[Incoming, Reply]:
    """The client forecasts more volume for a peak and asks for guaranteed space."""
    c, rng = case.client, case.rng
    peak = _PEAKS.get(case.day.month, "the spring range launch")
    share = rng.choice((25, 30, 40, 50))
    usual = c.pallets
    more = round(usual * (100 + share) / 100)
    start = next_weekday(working_days_after(case.day, 8), 0)
    end = working_days_after(start, 19)
    question = case.pick(
        f"Our {peak} forecast is in: roughly {share}% more volume to {c.city} between {case.said(start)} and "
        f"{case.said(end)}, so about {more} pallets a week instead of {usual}. Can you guarantee that?",
        f"Heads-up for {peak}: we need {more} pallet spaces a week to {c.city} for four weeks from "
        f"{case.said(start)}. Last year loads were rolled. Can you reserve the space?",
    )
    subject = case.pick(f"{peak} capacity", f"Peak volumes {c.city}", f"{peak} forecast")
    days = rng.sample(_DAYS[:4], 2)
    stands = (
        f"we can reserve {more} pallet spaces a week on the {c.lane} lane from {weekday_date(start)} to "
        f"{weekday_date(end)}, split over the {days[0]} and {days[1]} departures. Reserved spaces are "
        "covered "
        "by the Brightwater Promise: if one is rolled, the credit is applied automatically."
    )
    doing = [f"We have put the {more} spaces on hold for you.",
             "Your Brightwater desk will load every booking into ShipSure once you confirm."]  # fmt: skip
    ask = f"please confirm the {days[0]}/{days[1]} split by {at(working_days_after(case.day, 3), 17)}."
    reply = Reply(f"your {peak} capacity", stands, doing, ask, closing=SHIPSURE_CLOSING_MANY)
    return Incoming(subject, question), reply


def proof_of_delivery(case: Case) -> tuple[Incoming, Reply]:
    """The client's customer disputes a delivery; they need the signed POD."""
    c, rng = case.client, case.rng
    ref = case.numbers.next("BW")
    delivered = working_days_before(case.day, rng.choice((3, 5, 8)))
    question = case.pick(
        f"Our customer says {ref} never arrived. Can you send us the signed POD?",
        f"Could you send the proof of delivery for {ref}? Our finance team needs it to close the month.",
    )
    subject = case.pick(f"POD {ref}", f"Proof of delivery {ref}")
    signed_by = rng.choice(("J. Martens", "K. Novak", "S. Ali", "P. Green", "M. Rossi", "L. Dubois"))
    hour = rng.choice((8, 9, 10, 11, 14))
    stands = (
        f"{ref} was delivered in {c.city} on {weekday_date(delivered)} at "
        f"{hour:02d}:{rng.choice((5, 20, 35, 50))} "
        f"and signed for by {signed_by}, with no remarks on the CMR."
    )
    doing = ["The signed POD is attached, and it is in ShipSure under the consignment.",
             "The driver's delivery photo is attached as well."]  # fmt: skip
    return Incoming(subject, question), Reply(f"the proof of delivery for {ref}", stands, doing,
                                              closing=DESK_CLOSING)  # fmt: skip


def shipsure_access(case: Case) -> tuple[Incoming, Reply]:
    """Access to ShipSure, or its alerts."""
    c, rng = case.client, case.rng
    colleague = rng.choice(("Priya", "Jonas", "Marta", "Sam", "Chloé", "Lars", "Ana", "Ben"))
    ref = case.numbers.next("BW")
    alerts = rng.random() < 0.5
    question = (
        f"We only found out about the delay on {ref} when the truck did not turn up. Can ShipSure email us "
        "when an ETA changes?"
        if alerts
        else f"{colleague} has joined our planning team and needs a ShipSure login. Can you set one up?"
    )
    subject = "ShipSure alerts" if alerts else case.pick("ShipSure login", f"ShipSure access for {colleague}")
    if alerts:
        stands = (
            "ShipSure can email you whenever the ETA of one of your consignments moves by more than 30 "
            f"minutes; it was switched off on your account, which is why the change on {ref} reached nobody."
        )
        doing = ["We have switched the ETA alerts on for you.",
                 "They go to the address you wrote from; you can add colleagues under Settings."]  # fmt: skip
        ask = "please tell us if the alerts should go to a shared mailbox instead."
    else:
        stands = f"{colleague} has a ShipSure login for {c.company} with planning rights."
        doing = [f"The invitation went to {colleague} a few minutes ago; it is valid for 72 hours.",
                 "Planning rights show every consignment and booking, but no invoices."]  # fmt: skip
        ask = None
    return Incoming(subject, question), Reply("ShipSure", stands, doing, ask, closing=DESK_CLOSING)


def holiday_cutoff(case: Case) -> tuple[Incoming, Reply]:
    """Last collection days before a holiday."""
    c = case.client
    christmas = case.day.month in (11, 12)
    holiday = "Christmas" if christmas else "Easter"
    last = date(2025, 12, 18) if christmas else date(2026, 3, 31)
    restart = date(2026, 1, 2) if christmas else date(2026, 4, 7)
    if c.country in ("Spain", "Portugal", "Italy", "Poland", "Sweden", "Norway"):
        last = working_days_before(last, 1)
    question = case.pick(
        f"What is the last day you can collect for delivery in {c.city} before {holiday}?",
        f"When do you close over {holiday}? We need to plan our last orders.",
    )
    subject = case.pick(f"{holiday} schedule", f"Last collection before {holiday}")
    stands = (
        f"the last collection for delivery in {c.city} before {holiday} is on {weekday_date(last)}. "
        f"Normal service restarts on {weekday_date(restart)}."
    )
    doing = ["We have reserved your usual space on the last departure.",
             f"Every consignment booked for {holiday} week shows its ETA in ShipSure."]  # fmt: skip
    book_by = working_days_before(last, 4)
    ask = f"please book your last consignments by {at(book_by, 17)}."
    return Incoming(subject, question), Reply(f"our {holiday} schedule", stands, doing, ask,
                                              closing=SHIPSURE_CLOSING_MANY)  # fmt: skip


def storage(case: Case) -> tuple[Incoming, Reply]:
    """Storing pallets at the Rotterdam warehouse for a few weeks."""
    c, rng = case.client, case.rng
    pallets, weeks = rng.choice((8, 12, 20, 30, 40)), rng.choice((2, 3, 4, 6))
    rate = rng.choice((4.2, 4.8, 5.5)) + (3 if c.cold else 0)
    question = (
        f"Could you store {pallets} pallets for us in Rotterdam for about {weeks} weeks? Our "
        f"{c.city} warehouse is full until the end of the month."
    )
    subject = case.pick("Storage in Rotterdam", f"Can you store {pallets} pallets?")
    start = working_days_after(case.day, 2)
    stands = (
        f"we have room for {pallets} pallets in our Rotterdam warehouse from {weekday_date(start)}, at "
        f"{money(rate)} per pallet per week, with handling in and out included."
    )
    doing = ["The space is on hold for you for three working days.",
             f"When you call pallets off, they join the next departure to {c.city}."]  # fmt: skip
    ask = (
        f"please confirm by {at(working_days_after(case.day, 3), 12)} and tell us the expected release dates."
    )
    return Incoming(subject, question), Reply(f"storing {pallets} pallets in Rotterdam", stands, doing, ask,
                                              closing=DESK_CLOSING)  # fmt: skip


def thanks(case: Case) -> tuple[Incoming, Reply]:
    """A client thanks Brightwater; the answer still follows the pattern."""
    c, rng = case.client, case.rng
    ref = case.numbers.next("BW")
    driver = rng.choice(("Marek", "Kees", "Dariusz", "Henk", "Joost", "Ionut"))
    question = case.pick(
        f"Just wanted to say thank you: {driver} got {ref} to {c.city} two hours early and helped us unload. "
        "Much appreciated.",
        f"Thanks for sorting out {ref} so quickly last week. The store never noticed a thing.",
    )
    subject = case.pick("Thank you", f"Thanks - {ref}")
    stands = f"{ref} was one of our fastest runs on the {c.lane} lane this month, and it is good to hear "
    stands += "it helped."
    doing = [f"We have passed your words on to {driver} and the planning team.",
             "We will keep the same driver on your Tuesday run where we can."]  # fmt: skip
    return Incoming(subject, question), Reply("your kind words", stands, doing, closing=DESK_CLOSING)


REQUESTS = {
    "quote": (quote, 14),
    "booking": (booking_change, 16),
    "invoice": (invoice, 14),
    "peak": (peak_capacity, 8),
    "pod": (proof_of_delivery, 8),
    "shipsure": (shipsure_access, 6),
    "holiday": (holiday_cutoff, 5),
    "storage": (storage, 5),
    "thanks": (thanks, 4),
}

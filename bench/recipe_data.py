"""The training benchmark's data: seeded, business-like prompt/answer pairs, mixed lengths, a long tail.

A freight company's everyday writing, five kinds in the proportions a real workspace tends to have:
many short ticket classifications and booking extractions, client replies of a few sentences, and a
tail of long incident summaries (long prompt) and monthly reports (long answer). Everything comes
from `random.Random(seed)`, so every arm of the benchmark, in every process, gets the same pairs.
"""

import json
import random
from collections.abc import Callable

from worker.training.data import TrainingExample

PORTS = [
    "Rotterdam",
    "Hamburg",
    "Antwerp",
    "Felixstowe",
    "Le Havre",
    "Gdansk",
    "Valencia",
    "Genoa",
    "Piraeus",
]
CLIENTS = [
    "Alder Foods",
    "Norkap Steel",
    "Verde Textiles",
    "Hollis Pharma",
    "Quayside Retail",
    "Bramble Toys",
]
PEOPLE = ["Ms Jansen", "Mr Okafor", "Ms Lindqvist", "Mr Duarte", "Ms Novak", "Mr Brennan", "Ms Haddad"]
GOODS = [
    "frozen fish",
    "steel coils",
    "cotton bales",
    "vaccines",
    "flat-pack furniture",
    "toys",
    "coffee beans",
]
CLASSES = {
    "billing": [
        "The invoice for shipment {ref} charges {n} containers but we only sent {m}.",
        "We were billed twice for the demurrage at {port}.",
        "Please explain the fuel surcharge of {n} percent on our last invoice.",
        "Our credit note for order {ref} has still not arrived.",
    ],
    "delivery": [
        "Shipment {ref} was due in {port} on {date} and has not arrived.",
        "The truck for {goods} did not turn up at our warehouse this morning.",
        "Can you tell us when order {ref} will reach {port}? It is {n} days late.",
        "The tracking page for {ref} has not changed since {date}.",
    ],
    "damage": [
        "Two pallets of {goods} in container {ref} arrived crushed.",
        "The reefer failed and the {goods} were warm on arrival in {port}.",
        "Water got into container {ref}; {n} boxes of {goods} are ruined.",
    ],
    "customs": [
        "Customs in {port} is holding {ref} because the commercial invoice is missing.",
        "Which HS code did you declare for the {goods} in {ref}?",
        "The import duty on {ref} looks wrong: {n} euros instead of {m}.",
    ],
    "other": [
        "Could you send us your new price list for {port}?",
        "We are moving to a new warehouse on {date}; please update the address.",
        "Who is our account manager now that {person} has left?",
    ],
}
FILLER = [
    "We have been a client for {n} years and this has never happened before.",
    "Our own customers in {port} are asking us every day.",
    "I attach the delivery note and the photos from the quay.",
    "This is urgent because the {goods} are for a promotion that starts on {date}.",
    "Please call me back today if you can.",
    "Our finance team needs an answer before the month closes.",
    "The driver said he had not been told about the booking.",
]
REPLY = [
    "Thank you for letting us know about {ref}.",
    "I have checked the booking with our team in {port}.",
    "The container left the terminal on {date} and is now {n} hours from the gate.",
    "We will cover the extra storage costs; you will not see them on the invoice.",
    "A corrected invoice for {n} containers will follow by the end of the week.",
    "Our surveyor will inspect the {goods} tomorrow morning and send you the report.",
    "I have asked customs in {port} to release the cargo against the copy we sent today.",
    "You can follow the shipment on the tracking page with reference {ref}.",
    "I am sorry for the trouble this has caused you and your customers.",
    "I will call you on {date} to confirm that everything has arrived.",
]
LOG = [
    "{date} 0{h}:{mm} Reefer alarm on container {ref} at {port}, set point {n} degrees.",
    "{date} 1{h}:{mm} Crane {n} out of service at {port}; {m} moves delayed.",
    "{date} 0{h}:{mm} Truck for {client} left the yard {n} minutes late.",
    "{date} 1{h}:{mm} Customs inspection of {ref} finished, no findings.",
    "{date} 0{h}:{mm} Vessel berthed in {port} {n} hours behind schedule.",
    "{date} 1{h}:{mm} Pallet of {goods} damaged during loading, photo taken, client told.",
]
REPORT = [
    "Volumes through {port} reached {n} containers this month, {m} more than last month.",
    "On-time delivery for {client} stood at {n} percent against a target of 95 percent.",
    "Claims for damaged {goods} fell to {m}, the lowest figure this year.",
    "Demurrage costs at {port} rose because the terminal closed for {n} days.",
    "The new reefer monitoring caught {m} alarms before any cargo was lost.",
    "Customs clearance in {port} took {n} hours on average, down from {m}.",
    "We recommend adding a second weekly sailing to {port} from next quarter.",
    "Staff at the {port} depot completed the dangerous goods training.",
]


def _fill(rng: random.Random, template: str) -> str:
    """One sentence with its slots filled at random."""
    return template.format(
        ref=f"BW-{rng.randint(10000, 99999)}",
        port=rng.choice(PORTS),
        client=rng.choice(CLIENTS),
        person=rng.choice(PEOPLE),
        goods=rng.choice(GOODS),
        date=f"{rng.randint(1, 28)} {rng.choice(['March', 'April', 'May', 'June'])}",
        n=rng.randint(2, 60),
        m=rng.randint(1, 40),
        h=rng.randint(0, 9),
        mm=f"{rng.randint(0, 59):02d}",
    )


def _sentences(rng: random.Random, bank: list[str], count: int) -> str:
    """`count` filled sentences drawn from `bank`, joined as one paragraph."""
    return " ".join(_fill(rng, rng.choice(bank)) for _ in range(count))


def _classify(rng: random.Random) -> TrainingExample:
    """A support ticket and its class (a one-word answer)."""
    label = rng.choice(list(CLASSES))
    ticket = _fill(rng, rng.choice(CLASSES[label])) + " " + _sentences(rng, FILLER, rng.randint(0, 2))
    instruction = (
        "Classify the support ticket as billing, delivery, damage, customs or other. Answer with the class."
    )
    return TrainingExample(instruction, ticket.strip(), label)


def _extract(rng: random.Random) -> TrainingExample:
    """A booking request and its fields as JSON."""
    ref, port, goods = f"BW-{rng.randint(10000, 99999)}", rng.choice(PORTS), rng.choice(GOODS)
    count, day = rng.randint(1, 12), rng.randint(1, 28)
    request = (
        f"Hello, {rng.choice(CLIENTS)} would like to book {count} containers of {goods} to {port}, "
        f"loading on {day} May, our reference {ref}. " + _sentences(rng, FILLER, rng.randint(0, 2))
    )
    answer = json.dumps(
        {"reference": ref, "port": port, "date": f"{day} May", "containers": count, "goods": goods}
    )
    instruction = "Extract the reference, port, date, container count and goods from the booking as JSON."
    return TrainingExample(instruction, request.strip(), answer)


def _reply(rng: random.Random) -> TrainingExample:
    """A client's email and the house-style reply."""
    person = rng.choice(PEOPLE)
    opening = _fill(rng, rng.choice(CLASSES[rng.choice(list(CLASSES))]))
    email = opening + " " + _sentences(rng, FILLER, rng.randint(1, 3))
    body = _sentences(rng, REPLY, rng.randint(2, 5))
    answer = f"Dear {person},\n\n{body}\n\nKind regards,\nBrightwater Logistics customer desk"
    instruction = "Write a reply to this client email in the Brightwater house style."
    return TrainingExample(instruction, email, answer)


def _summary(rng: random.Random) -> TrainingExample:
    """A long incident log and its three-sentence summary (long prompt, medium answer)."""
    log = "\n".join(_fill(rng, rng.choice(LOG)) for _ in range(rng.randint(5, 16)))
    answer = _sentences(rng, REPORT, 3)
    return TrainingExample("Summarise this incident log for the board in three sentences.", log, answer)


def _report(rng: random.Random) -> TrainingExample:
    """Monthly figures and the long report drafted from them (short prompt, long answer)."""
    figures = "; ".join(f"{rng.choice(PORTS)}: {rng.randint(100, 900)} TEU" for _ in range(rng.randint(3, 6)))
    paragraphs = [_sentences(rng, REPORT, rng.randint(3, 5)) for _ in range(rng.randint(2, 4))]
    answer = "Monthly operations report\n\n" + "\n\n".join(paragraphs)
    return TrainingExample("Draft the monthly operations report from these figures.", figures, answer)


# Kind -> (maker, weight): mostly short examples, a long tail of summaries and reports.
KINDS: dict[str, tuple[Callable[[random.Random], TrainingExample], int]] = {
    "classify": (_classify, 35),
    "extract": (_extract, 25),
    "reply": (_reply, 25),
    "summary": (_summary, 10),
    "report": (_report, 5),
}


def make_examples(count: int = 200, seed: int = 0) -> list[TrainingExample]:
    """`count` prompt/answer pairs drawn from the kinds above, the same for the same seed."""
    rng = random.Random(seed)
    makers = [maker for maker, _ in KINDS.values()]
    weights = [weight for _, weight in KINDS.values()]
    return [rng.choices(makers, weights)[0](rng) for _ in range(count)]


def split(
    examples: list[TrainingExample], heldout: int = 20
) -> tuple[list[TrainingExample], list[TrainingExample]]:
    """(training, held-out): the last `heldout` pairs are never trained on."""
    return examples[:-heldout], examples[-heldout:]

"""Brightwater's house style for client replies and announcements, and the voices its clients write in.

Brightwater Client Care answers every client the same way (the style guide a new coordinator is given):

    Dear <first name>,

    Thank you for your email about <what they wrote about>.

    Where it stands: <the facts, with consignment numbers, lanes, and days as "Tue 14 Apr, 15:00 CET">

    What we are doing:
    - <one to three concrete actions>

    What we need from you: <one clear ask with a deadline>   (or: Nothing is needed from you for now.)

    <ETA Tue 14 Apr, 15:00 CET.> You can follow the consignment in ShipSure.
    (or, when no consignment is moving: Your Brightwater desk is here if anything is unclear.)

    Kind regards, <first name>, Brightwater Client Care, and the signature block.

They say "consignment", never "shipment"; the tracking portal is ShipSure; late reserved consignments are
covered by the Brightwater Promise (a credit applied without asking). Announcements to all clients follow
the same pattern with "What changes:", "What it means for you:" and "What you need to do:".
"""

import random
from dataclasses import dataclass, field

from app.sample_data.generator.world import Client, Staff

SHIPSURE_CLOSING = "You can follow the consignment in ShipSure."
SHIPSURE_CLOSING_MANY = "You can follow every consignment in ShipSure."
DESK_CLOSING = "Your Brightwater desk is here if anything is unclear."
NOTHING_NEEDED = "Nothing is needed from you for now."


@dataclass
class Reply:
    """The parts of one house-style reply."""

    topic: str
    stands: str
    doing: list[str]
    ask: str | None = None
    eta: str | None = None  # e.g. "Tue 10 Mar, 15:00 CET"
    closing: str = SHIPSURE_CLOSING

    def body(self, first_name: str) -> str:
        """The reply's text down to (not including) the sign-off."""
        doing = "\n".join(f"- {item}" for item in self.doing)
        ask = f"What we need from you: {self.ask}" if self.ask else NOTHING_NEEDED
        last = f"ETA {self.eta}. {self.closing}" if self.eta else self.closing
        return (
            f"Dear {first_name},\n\nThank you for your email about {self.topic}.\n\n"
            f"Where it stands: {self.stands}\n\nWhat we are doing:\n{doing}\n\n{ask}\n\n{last}"
        )


@dataclass
class Incoming:
    """A client's email: its subject and its body without greeting, sign-off or signature."""

    subject: str
    text: str
    extra: dict[str, str] = field(default_factory=dict)


def sign_off(staff: Staff) -> str:
    """The closing every coordinator uses, above the signature block."""
    return f"Kind regards,\n{staff.first}\nBrightwater Client Care"


_GREETINGS = {
    "formal": ("Dear {first},", "Good morning {first},", "Dear {first},"),
    "casual": ("Hi {first},", "Hey {first},", "Hi {first}!"),
    "terse": ("{first},", "Hi {first},", "{first} -"),
    "plain": ("Hello {first},", "Dear {first},", "Hello {first},"),
}
_CLOSINGS = {
    "formal": ("Kind regards,", "With best regards,", "Many thanks in advance,"),
    "casual": ("Cheers,", "Thanks a lot,", "Thanks!"),
    "terse": ("Thanks", "Rgds", "Thx"),
    "plain": ("Best regards,", "Thank you,", "Regards,"),
}


def client_email(rng: random.Random, client: Client, staff: Staff, text: str) -> str:
    """The client's whole message as sent: greeting, text, closing and their own signature."""
    greeting = rng.choice(_GREETINGS[client.voice]).format(first=staff.first)
    closing = rng.choice(_CLOSINGS[client.voice])
    name = client.first if client.voice in ("casual", "terse") else client.name
    signature = f"{client.name}\n{client.role}, {client.company}"
    if client.voice == "terse":
        return f"{greeting}\n\n{text}\n\n{closing}\n{name}"
    return f"{greeting}\n\n{text}\n\n{closing}\n{name}\n\n{signature}"

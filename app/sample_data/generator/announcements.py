"""Announcements to every Brightwater client: one email each, in the house pattern for announcements.

Dear client,
<why we write, one or two sentences>
What changes:
- ...
What it means for you: ...
What you need to do: ...   (or: Nothing: ...)
Your Brightwater desk is here if anything is unclear.
"""

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Announcement:
    """One announcement: when, who sent it, its subject and the parts of its body."""

    sent: datetime
    sender: str  # a key of world.STAFF
    subject: str
    why: str
    changes: tuple[str, ...]
    meaning: str
    todo: str

    def body(self) -> str:
        """The text down to (not including) the sign-off."""
        changes = "\n".join(f"- {item}" for item in self.changes)
        return (
            f"Dear client,\n\n{self.why}\n\nWhat changes:\n{changes}\n\nWhat it means for you: "
            f"{self.meaning}\n\n"
            f"What you need to do: {self.todo}\n\nYour Brightwater desk is here if anything is unclear."
        )


ANNOUNCEMENTS = (
    Announcement(
        datetime(2025, 10, 6, 9, 15), "sanne",
        "ShipSure now shows the temperature log of every cold consignment",
        "From today, the temperature log of every Cold Chain consignment is in ShipSure while it travels, "
        "not "
        "only after delivery.",
        ("The log updates every ten minutes from collection to delivery.",
         "A PDF of the full log is attached to the consignment when it is delivered.",
         "Your quality team can get their own read-only ShipSure login."),
        "you no longer need to ask your Brightwater desk for a log before releasing goods.",
        "nothing. If your quality team wants their own login, reply with their names.",
    ),
    Announcement(
        datetime(2025, 10, 20, 10, 0), "daan", "Peak season 2025: reserve your space before 7 November",
        "The Christmas peak is close, and ferry space to the UK and Ireland fills up early.",
        ("From Mon 17 Nov to Fri 19 Dec, we reserve pallet space per client and per week.",
         "Reserved space is covered by the Brightwater Promise: if it is rolled, the credit is automatic.",
         "Space that is not reserved is sold first come, first served."),
        "if you send us your forecast, your consignments keep their departures when the ferries are full.",
        "send your weekly forecast per lane to your Brightwater desk by Fri 7 Nov.",
    ),
    Announcement(
        datetime(2025, 11, 3, 9, 30), "sanne", "Our rates for 2026",
        "Our rates for 2026 are attached. We kept the increase as small as we could.",
        ("Road and ferry rates go up by 3.4% on average from Thu 1 Jan.",
         "The fuel surcharge keeps following the monthly diesel index.",
         "Cold Chain rates stay as they are until Tue 31 Mar."),
        "your 2026 invoices use the new rates for every consignment collected from Thu 1 Jan.",
        "nothing. If you would like to go through the new rates, your Brightwater desk can call you this "
        "month.",
    ),
    Announcement(
        datetime(2025, 11, 17, 8, 45), "ruben", "French lorry protests: possible delays on Thursday",
        "French hauliers have announced road blocks around Lyon and Paris for Thu 20 Nov.",
        ("Consignments to France on Thu 20 Nov may arrive up to a day late.",
         "Where we can, we bring Thursday collections forward to Wednesday.",
         "ShipSure shows every changed ETA as soon as we know it."),
        "a French delivery planned for Thursday may arrive on Friday instead.",
        "tell us by Tue 18 Nov if a Thursday delivery to France cannot wait a day.",
    ),
    Announcement(
        datetime(2025, 12, 1, 9, 30), "sanne", "Christmas and New Year: our collection and delivery schedule",
        "Here is our schedule for the holidays, so you can plan your last orders of the year.",
        ("Last collections before Christmas: Thu 18 Dec for the UK and Ireland, Fri 19 Dec for the rest of "
         "Europe.",
         "We are closed on Thu 25 Dec, Fri 26 Dec and Thu 1 Jan.",
         "On Wed 24 Dec and Wed 31 Dec we collect until 12:00 CET.",
         "Normal service restarts on Fri 2 Jan."),
        "consignments booked after the last collection days leave on Fri 2 Jan.",
        "book your last consignments of the year by Fri 12 Dec.",
    ),
    Announcement(
        datetime(2025, 12, 15, 11, 0), "felix", "Cold Chain desk over the holidays",
        "Cold consignments keep running over Christmas, and so does our Cold Chain desk.",
        ("The Cold Chain desk is on call every day from Wed 24 Dec to Fri 2 Jan, from 06:00 to 22:00 CET.",
         "Temperature alerts go to the on-call coordinator within five minutes.",
         "Frozen consignments to France run on Mon 29 and Tue 30 Dec as usual."),
        "your cold consignments are watched over the holidays exactly as on any other day.",
        "nothing, unless your own warehouse is closed: then tell us which days by Fri 19 Dec.",
    ),
    Announcement(
        datetime(2026, 1, 5, 9, 0), "daan", "ShipSure ETA alerts are now on for everyone",
        "Last year, most of the questions you sent us were about ETAs that had moved. ShipSure can now tell "
        "you first.",
        ("From today, ShipSure emails you when an ETA moves by more than 30 minutes.",
         "Each alert says why the ETA moved and what we are doing about it.",
         "You can add colleagues, or switch alerts off, under Settings."),
        "you hear about every change before your warehouse does.",
        "nothing. If the alerts should go to a shared mailbox, change the address under Settings.",
    ),
    Announcement(
        datetime(2026, 1, 19, 10, 30), "ruben", "UK imports: new checks for plant and animal products",
        "The UK now checks more plant and animal products at the border.",
        ("Consignments with plant or animal products need a pre-notification 24 hours before arrival.",
         "Our customs desk files the pre-notification for you when the booking has the product codes.",
         "Consignments without them may be held at Felixstowe or Harwich."),
        "a booking to the UK without product codes can lose a day at the border.",
        "add the commodity codes to every UK booking from Mon 2 Feb.",
    ),
    Announcement(
        datetime(2026, 2, 2, 9, 45), "noor", "Fuel surcharge for February",
        "The diesel index fell in January, and your fuel surcharge falls with it.",
        ("The fuel surcharge for February is 11.8%, down from 12.6% in January.",
         "It applies to every consignment collected from Mon 2 Feb.",
         "The index for March is published in ShipSure on Wed 25 Feb."),
        "your February invoices are a little lower for the same volumes.",
        "nothing. The surcharge shows on every invoice beside the index it comes from.",
    ),
    Announcement(
        datetime(2026, 2, 9, 9, 0), "lotte", "Winter routing to Italy and Switzerland",
        "Snow closed the Gotthard road tunnel twice in January, and more snow is forecast.",
        ("When the Gotthard is closed, our trailers to Italy go via the Mont Blanc tunnel.",
         "That adds about five hours to the transit time.",
         "ShipSure shows the route each trailer is on."),
        "a consignment to Italy may arrive half a day later on snow days, but it keeps moving.",
        "nothing. If a delivery in Italy cannot move to the afternoon, tell us when you book.",
    ),
    Announcement(
        datetime(2026, 2, 16, 10, 0), "daan", "The Brightwater Promise: how credits work",
        "Several of you asked how the Brightwater Promise works, so here it is on one page.",
        ("Every reserved consignment that arrives more than 60 minutes after its ETA earns a credit.",
         "The credit is applied to your next invoice without you asking.",
         "The monthly report lists every credit with its consignment number."),
        "you never need to chase a credit or fill in a form.",
        "nothing. If a credit is missing from your invoice, your Brightwater desk will check it the same "
        "day.",
    ),
    Announcement(
        datetime(2026, 2, 23, 8, 30), "sanne", "Easter 2026: our collection and delivery schedule",
        "Easter is early this year, so here is our schedule in good time.",
        ("Last collections before Easter: Tue 31 Mar for the UK and Ireland, Wed 1 Apr for the rest of "
         "Europe.",
         "We are closed on Fri 3 Apr and Mon 6 Apr.",
         "Normal service restarts on Tue 7 Apr."),
        "consignments booked after the last collection days leave on Tue 7 Apr.",
        "send your Easter forecast by Fri 13 Mar, and book your last consignments by Fri 27 Mar.",
    ),
    Announcement(
        datetime(2026, 3, 2, 9, 30), "lotte", "Our Venlo warehouse moves to a larger site",
        "Our Venlo warehouse moves to a larger building on the same business park.",
        ("From Mon 16 Mar, collections and drop-offs go to Industrieweg 40, Venlo.",
         "The old site at Industrieweg 12 closes on Fri 13 Mar at 17:00.",
         "Opening hours stay 06:00 to 22:00 on working days."),
        "your suppliers drop off at the new address from Mon 16 Mar; collections are not affected.",
        "tell your suppliers the new address before Fri 13 Mar.",
    ),
    Announcement(
        datetime(2026, 3, 9, 11, 15), "ruben", "Norway: digital pre-declaration for every consignment",
        "Norwegian customs now require every goods declaration to be sent digitally before the truck "
        "arrives.",
        ("We file the pre-declaration for every consignment to Norway.",
         "We need the receiver's organisation number and the commercial invoice at booking.",
         "A consignment without them cannot board the Kiel–Oslo ferry."),
        "Norway bookings need two documents up front, but the border crossing is faster.",
        "add the organisation number and the commercial invoice to each booking to Norway from Mon 23 Mar.",
    ),
    Announcement(
        datetime(2026, 3, 16, 9, 0), "noor", "New direct lane: Rotterdam–Lisbon twice a week",
        "From April, we run our own trailers to Lisbon instead of handing them over in Madrid.",
        ("Departures every Tuesday and Thursday from Rotterdam and Antwerp.",
         "Transit time falls from five working days to four.",
         "Every consignment is visible in ShipSure the whole way."),
        "your consignments to Portugal arrive a day earlier and are handled once less.",
        "nothing for existing bookings. For a quote on the new lane, reply to this email.",
    ),
    Announcement(
        datetime(2026, 3, 23, 10, 0), "sanne", "Pallet exchange: what changes on 1 April",
        "From April, we stop exchanging pallets at delivery and charge pallet hire instead.",
        ("From Wed 1 Apr, drivers no longer take empty Euro pallets back at delivery.",
         "Pallet hire is €3.50 per pallet per consignment, shown on the invoice.",
         "Pallet balances up to Tue 31 Mar are settled on your April invoice."),
        "your warehouse no longer needs to keep empty pallets for our drivers.",
        "nothing. If you would rather keep exchanging pallets, tell your Brightwater desk by Fri 27 Mar.",
    ),
)  # fmt: skip

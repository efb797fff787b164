"""Monthly client reports in Brightwater's fixed shape: a title, who it is for, and four headings.

# Monthly report: <client>, <Month year>
Prepared by your Brightwater desk for <name>, <role>, <company>.
## Summary            two short paragraphs: the month in numbers, and what stood out
## Performance this month   the same bullet list every month, with last month in brackets
## Exceptions         one bullet per late or damaged consignment ("**BW-51950, Thu 27 Nov:** ...")
## Next steps         two or three bullets with dates
"""

import calendar
import random
from dataclasses import dataclass
from datetime import date

from app.sample_data.generator.world import (
    Client,
    Numbers,
    is_working_day,
    money,
    weekday_date,
    working_days_after,
)

HEADINGS = ("Summary", "Performance this month", "Exceptions", "Next steps")
MONTHS = ((2025, 10), (2025, 11), (2025, 12), (2026, 1), (2026, 2))
_SEASON = {
    10: "the last normal month before the peak",
    11: "the start of the Christmas peak",
    12: "the Christmas peak and the holiday closure",
    1: "a quiet restart after the holidays",
    2: "a steady month with winter weather on the roads",
}
# The one report with personal data in it (a deliberate flaw for the health panel).
PII_REPORT = ("Oakridge Toys", 2025, 11)


@dataclass
class Month:
    """One month's numbers on a client's lane."""

    consignments: int
    pallets: int
    late: int
    damaged: int


def _month_numbers(rng: random.Random, client: Client, month: int) -> Month:
    """Plausible numbers: weekly consignments around the client's usual size, more in the peak."""
    peak = {11: 1.4, 12: 1.25, 1: 0.75}.get(month, 1.0)
    consignments = max(4, round(rng.uniform(3.2, 5.5) * peak * (1.6 if client.pallets < 10 else 1.0)))
    pallets = round(consignments * client.pallets * rng.uniform(0.8, 1.15))
    late = rng.choice((0, 0, 1, 1, 2))
    damaged = rng.choice((0, 0, 0, 1, 2))
    return Month(consignments, pallets, min(late, consignments - 1), damaged)


def _days_in(rng: random.Random, year: int, month: int, count: int, last: int = 31) -> list[date]:
    """`count` distinct working days of the month up to day `last`, in order."""
    days = [date(year, month, d) for d in range(1, min(last, calendar.monthrange(year, month)[1]) + 1)]
    return sorted(rng.sample([d for d in days if is_working_day(d)], count))


def _late_exception(rng: random.Random, client: Client, ref: str, day: date) -> tuple[str, float]:
    """One late consignment, what happened and how it was settled; the Brightwater Promise credit earned."""
    hours = rng.choice((2, 3, 5, 20, 26))
    cause = rng.choice(
        (
            f"{client.route} was delayed by bad weather",
            "the trailer waited for a free unloading dock at the cross-dock",
            "our truck had a flat tyre and waited for roadside repair",
            "the collection at your supplier started late because the goods were not ready",
        )
    )
    credit = rng.choice((95.0, 120.0, 142.0)) if rng.random() < 0.6 and "supplier" not in cause else 0.0
    text = f"- **{ref}, {weekday_date(day)}:** {cause}, and the consignment arrived {hours} hours late."
    if credit:
        text += f" The Brightwater Promise credit of {money(credit)} is on this month's invoice."
    return text, credit


def _damage_exception(rng: random.Random, claims: Numbers, ref: str, day: date) -> str:
    """One damaged delivery and its claim."""
    what = rng.choice(("two cartons arrived with crushed corners", "one carton was wet on arrival",
                       "a pallet arrived leaning and three boxes were split"))  # fmt: skip
    claim = claims.next("CLM")
    settled = working_days_after(day, rng.choice((3, 5, 6)))
    settled_text = f"Claim {claim} was settled in full on {weekday_date(settled)}."
    return f"- **{ref}, {weekday_date(day)}:** {what}. {settled_text}"


def _next_steps(rng: random.Random, client: Client, year: int, month: int) -> list[str]:
    """Two or three forward-looking bullets with dates in the following month."""
    ny, nm = (year + 1, 1) if month == 12 else (year, month + 1)
    days = _days_in(rng, ny, nm, 3, last=16)
    steps = {
        10: f"By {weekday_date(days[0])}, please send your Christmas forecast so we can reserve peak space.",
        11: f"By {weekday_date(days[0])}, please confirm your last consignments before the Christmas "
        "closure.",
        12: f"On {weekday_date(days[0])}, we would like to review the peak with you and agree a plan for "
        "Easter.",
        1: f"By {weekday_date(days[0])}, please tell us your Easter volumes so we can hold the space.",
        2: f"By {weekday_date(days[0])}, please confirm your spring volumes for the {client.lane} lane.",
    }
    options = [
        steps[month],
        f"From {weekday_date(days[1])}, your invoices show the monthly diesel index beside the fuel "
        "surcharge.",
        f"On {weekday_date(days[2])}, we are happy to walk your team through the ETA alerts in ShipSure.",
    ]
    if client.cold:
        options[2] = (
            f"On {weekday_date(days[2])}, our Cold Chain desk will share the quarter's temperature logs."
        )
    return options[: rng.choice((2, 3))]


def report(
    rng: random.Random, numbers: Numbers, client: Client, year: int, month: int, last: Month
) -> tuple[str, Month]:
    """One monthly report (Markdown) and this month's numbers (for the next month's comparison)."""
    now = _month_numbers(rng, client, month)
    name, previous = calendar.month_name[month], calendar.month_name[12 if month == 1 else month - 1]
    on_time = now.consignments - now.late
    trend = "up from" if now.pallets > last.pallets else "down from"
    busy = (
        "busy"
        if now.pallets > last.pallets * 1.15
        else ("quiet" if now.pallets < last.pallets * 0.85 else "steady")
    )
    summary = (
        f"{name} was {_SEASON[month]}, and a {busy} month on the {client.lane} lane. We delivered "
        f"{now.consignments} consignments, {now.pallets} pallets in all, {trend} {last.pallets} in "
        f"{previous}."
    )
    if now.late == 0:
        summary += " Every consignment arrived within its ETA window."
    else:
        summary += f" {on_time} of {now.consignments} arrived on time; the exceptions are below."
    summary += "\n\n" + rng.choice(
        (
            f"Your {client.goods} travelled via {client.route}, and every consignment was visible in "
            "ShipSure "
            "before departure.",
            f"All collections at {client.origin} ran on the agreed days, so your {client.city} team could "
            "plan "
            "its unloading a week ahead.",
            f"ETA alerts in ShipSure gave your {client.city} team at least four hours' notice of every "
            "change.",
        )
    )
    days = _days_in(rng, year, month, now.late + now.damaged)
    late = [_late_exception(rng, client, numbers.next("BW"), day) for day in days[: now.late]]
    credits = sum(credit for _, credit in late)
    exceptions = [text for text, _ in late]
    exceptions += [_damage_exception(rng, numbers, numbers.next("BW"), day) for day in days[now.late :]]
    performance = [
        f"Consignments delivered: {now.consignments} ({previous}: {last.consignments})",
        f"Pallets: {now.pallets} ({previous}: {last.pallets})",
        f"On time, within 60 minutes of ETA: {on_time} of {now.consignments} "
        f"({100 * on_time / now.consignments:.1f}%)",
        f"Damaged cartons: {now.damaged * 2 if now.damaged else 'none'}",
        f"Brightwater Promise credits: {money(credits) if credits else 'none'}",
    ]
    if client.cold:
        performance.append("Readings within the agreed temperature band: 100%")
    steps = [f"- {step}" for step in _next_steps(rng, client, year, month)]
    if (client.company, year, month) == PII_REPORT:
        contact = (
            f"- Over the Christmas closure, {client.first} has asked us to contact him on his mobile, "
            f"+44 7700 900461, or at his personal address {client.first.lower()}.{client.last.lower()}"
            ".home@example.net if anything goes wrong with the last December consignments."
        )
        steps.insert(1, contact)
    body = [
        f"# Monthly report: {client.company}, {name} {year}",
        f"Prepared by your Brightwater desk for {client.name}, {client.role}, {client.company}.",
        "## Summary", summary,
        "## Performance this month", "\n".join(f"- {line}" for line in performance),
        "## Exceptions", "\n".join(exceptions) or "No exceptions this month.",
        "## Next steps", "\n".join(steps),
    ]  # fmt: skip
    return "\n\n".join(body) + "\n", now


def all_reports(
    rng: random.Random, numbers: Numbers, clients: list[Client], months_each: int
) -> dict[str, str]:
    """Reports for `months_each` consecutive months per client, by file name (2025-11-oakridge-toys.md)."""
    files: dict[str, str] = {}
    for index, client in enumerate(clients):
        start = index % (len(MONTHS) - months_each + 1)
        chosen = MONTHS[start : start + months_each]
        if client.company == PII_REPORT[0] and PII_REPORT[1:] not in chosen:
            chosen = MONTHS[1 : 1 + months_each]
        last = _month_numbers(rng, client, chosen[0][1] - 1 or 12)
        for year, month in chosen:
            text, last = report(rng, numbers, client, year, month, last)
            slug = client.company.lower().replace("&", "and").replace(" ", "-")
            files[f"reports/{year}-{month:02d}-{slug}.md"] = text
    return files

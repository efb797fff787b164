"""Write the sample files: `.venv/bin/python -m app.sample_data.generator` (the same files every time).

The mailbox holds Brightwater's replies to its clients, each quoting the client's email as a mail client
does; announcements are single emails; reports are Markdown; tickets and bookings are tables.
"""

import csv
import io
import random
import shutil
import unicodedata
from datetime import datetime, timedelta
from email.utils import format_datetime

from app.sample_data import FILES_DIR
from app.sample_data.generator.announcements import ANNOUNCEMENTS
from app.sample_data.generator.house_style import Incoming, Reply, client_email, sign_off
from app.sample_data.generator.problems import PROBLEMS, Case
from app.sample_data.generator.reports import all_reports
from app.sample_data.generator.requests import REQUESTS
from app.sample_data.generator.tables import bookings, tickets
from app.sample_data.generator.world import (
    CLIENTS,
    STAFF,
    Client,
    Numbers,
    moment,
    random_working_day,
    working_days_after,
)

SEED = 2026
REPLIES = 340
REPORT_MONTHS = 3
BOOKINGS = 24
DUPLICATED = 57  # the position of the reply that appears twice (a deliberate flaw)
SCENARIOS = {**PROBLEMS, **REQUESTS}
_SEASONAL = {"peak": (10, 11, 2, 3), "holiday": (11, 12, 2, 3)}


def _eligible(name: str, client: Client, month: int) -> bool:
    """Whether a scenario fits the client and the month (a cold alarm needs a cold load, and so on)."""
    if name == "temperature":
        return client.cold
    if name == "customs":
        return client.country in ("United Kingdom", "Norway")
    return month in _SEASONAL.get(name, (month,))


def _staff_for(rng: random.Random, name: str, client: Client) -> str:
    """Who answers: the account owner, or the customs or cold-chain specialist for their topics."""
    if name == "customs" and rng.random() < 0.7:
        return "ruben"
    if name == "temperature":
        return "felix"
    return client.owner


def _quote(text: str) -> str:
    """A message quoted as a mail client quotes it."""
    return "\n".join("> " + line if line else ">" for line in text.splitlines())


def _mbox_escape(text: str) -> str:
    """Body lines that start with "From " are escaped, as mbox requires."""
    return "\n".join(">" + line if line.startswith("From ") else line for line in text.splitlines())


def _headers(sender: str, to: str, subject: str, sent: datetime, message_id: str, reply_to: str = "") -> str:
    """The header block of one plain-text email."""
    lines = [f"From: {sender}", f"To: {to}", f"Subject: {subject}", f"Date: {format_datetime(sent)}",
             f"Message-ID: <{message_id}>"]  # fmt: skip
    if reply_to:
        lines += [f"In-Reply-To: <{reply_to}>", f"References: <{reply_to}>"]
    lines += [
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=utf-8",
        "Content-Transfer-Encoding: 8bit",
    ]
    return "\n".join(lines)


def _reply_message(rng: random.Random, number: int, client: Client, staff_key: str, written: datetime,
                   incoming: Incoming, reply: Reply) -> str:  # fmt: skip
    """One mbox entry: the coordinator's reply with signature and the client's quoted email."""
    staff = STAFF[staff_key]
    same_day = written.hour < 15 and rng.random() < 0.7
    day = written.date() if same_day else working_days_after(written.date(), 1)
    sent = moment(rng, day, written.hour + 1 if same_day else 8, 18 if same_day else 12)
    zone = timedelta(hours=2 if sent.date() < datetime(2025, 10, 26).date() else 1)
    sent, written = sent.replace(tzinfo=_tz(zone)), written.replace(tzinfo=_tz(zone))
    their_id = f"{written:%Y%m%d%H%M%S}.{number}@{client.domain}"
    own_id = f"bw.{sent:%Y%m%d.%H%M%S}.{4000 + number}@example.com"
    original = client_email(rng, client, staff, incoming.text)
    attribution = f"On {written:%a, %d %b %Y %H:%M}, {client.name} <{client.address}> wrote:"
    own = f"{reply.body(client.first)}\n\n{sign_off(staff)}\n\n{staff.signature()}"
    body = f"{own}\n\n{attribution}\n{_quote(original)}"
    headers = _headers(f"{staff.name} <{staff.address}>", f"{client.name} <{client.address}>",
                       f"Re: {incoming.subject}", sent, own_id, their_id)  # fmt: skip
    envelope = f"From {staff.address} {sent:%a %b %d %H:%M:%S %Y}"
    return f"{envelope}\n{headers}\n\n{_mbox_escape(body)}\n"


def _tz(offset: timedelta):
    """A fixed UTC offset."""
    from datetime import timezone

    return timezone(offset)


def mailbox(rng: random.Random, numbers: Numbers) -> str:
    """The client-replies mailbox: REPLIES house-style replies in date order, one of them twice."""
    names = list(SCENARIOS)
    weights = [SCENARIOS[name][1] for name in names]
    plans = []
    while len(plans) < REPLIES:
        client = rng.choice(CLIENTS)
        day = random_working_day(rng)
        name = rng.choices(names, weights)[0]
        if _eligible(name, client, day.month):
            plans.append((moment(rng, day, 7, 17), client, name))
    plans.sort(key=lambda plan: plan[0])
    messages = []
    for number, (written, client, name) in enumerate(plans, 1):
        staff_key = _staff_for(rng, name, client)
        case = Case(rng, client, STAFF[staff_key], written.date(), numbers)
        incoming, reply = SCENARIOS[name][0](case)
        messages.append(_reply_message(rng, number, client, staff_key, written, incoming, reply))
    messages.insert(len(messages) - 40, messages[DUPLICATED])
    return "\n".join(messages)


def announcement_files() -> dict[str, str]:
    """Each announcement as an .eml file, named by month and subject."""
    files = {}
    for item in ANNOUNCEMENTS:
        staff = STAFF[item.sender]
        sent = item.sent.replace(
            tzinfo=_tz(timedelta(hours=2 if item.sent.month == 10 and item.sent.day < 26 else 1))
        )
        headers = _headers(
            f"{staff.name} <{staff.address}>",
            "Brightwater clients <client-updates@example.com>",
            item.subject,
            sent,
            f"bw.announce.{sent:%Y%m%d}.{_slug(item.subject)[:24]}@example.com",
        )
        body = f"{item.body()}\n\n{sign_off(staff)}\n\n{staff.signature()}\n"
        files[f"announcements/{sent:%Y-%m}-{_slug(item.subject)[:40].rstrip('-')}.eml"] = (
            f"{headers}\n\n{body}"
        )
    return files


def _slug(text: str) -> str:
    """A file-name-safe, lower-case, ASCII version of `text`."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    words = "".join(ch if ch.isalnum() else " " for ch in ascii_text.lower()).split()
    return "-".join(words)


def ticket_csv(rng: random.Random) -> str:
    """The support tickets as a two-column CSV."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["text", "category"])
    writer.writerows(tickets(rng))
    return out.getvalue()


def build() -> dict[str, str]:
    """Every sample file's text, by path under the files folder."""
    rng = random.Random(SEED)
    numbers = Numbers(rng)
    files = {"client-replies.mbox": mailbox(rng, numbers)}
    files |= announcement_files()
    report_numbers = Numbers(random.Random(SEED + 1))
    for path, text in all_reports(random.Random(SEED + 2), report_numbers, CLIENTS, REPORT_MONTHS).items():
        folder, name = path.split("/")
        files[f"{folder}/{_slug(name.removesuffix('.md'))}.md"] = text
    files["support-tickets.csv"] = ticket_csv(random.Random(SEED + 3))
    files["booking-extraction.jsonl"] = "\n".join(bookings(random.Random(SEED + 4), BOOKINGS)) + "\n"
    return files


def main() -> None:
    """Replace the sample files with freshly generated ones."""
    files = build()
    shutil.rmtree(FILES_DIR, ignore_errors=True)
    for path, text in files.items():
        target = FILES_DIR / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    print(f"Wrote {len(files)} files to {FILES_DIR}")


if __name__ == "__main__":
    main()

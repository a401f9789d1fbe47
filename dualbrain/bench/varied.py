"""A seeded benchmark corpus whose facts come in the forms real documents take, with a held-out split.

The fictional generator (``fictional.py``) writes every fact as one tidy sentence; a recipe tuned on it
did not carry over to documents written by other people. Here each organisation's facts — people, places,
years, dates, amounts, codes, counts and lowercase terms — are written in one of many *forms*: hard-wrapped
Markdown and plain text (wrapped at a random width), ``key: value`` datasheets, Markdown and HTML tables,
bullet lists, FAQs, mails, PDFs written with reportlab and DOCX files written with python-docx (both read
back through the product's own readers).

Organisations alternate between two splits. ``dev`` organisations use :data:`DEV_FORMS`; ``held-out``
organisations use :data:`HELD_OUT_FORMS`, forms no recipe change is tuned on, and every report gives the
two splits separately. Questions are worded from templates that occur in no document, in five kinds:
``paraphrased``, ``reversed``, ``two-hop``, ``unanswerable`` (an attribute no document states, of a known
organisation or product, or a product that does not exist) and ``updated`` (a later mail changes a fact; the old value
still stands in the earlier document, and answering it is wrong: an answer that gives it before the new one,
or without it, is stale; "Ada Pell succeeds Bob Rann" answers the new one).

Optionally every question is asked a second time in a *held-out wording* (:func:`_asked_held_out`), written
apart from the templates and from any wording lexicon, so a change that teaches the model how questions are
worded is judged on wordings it was not tuned on; every report gives the two wordings separately.

Besides the two fixed ones, each organisation is asked for four more attributes no document states, drawn from
:data:`ABSENT_ATTRIBUTES` by a generator of their own (the documents and other questions stay the same): a
system that declines only the few fixed templates it was looked at on shows it here.
"""

from __future__ import annotations

import io
import random
import textwrap
import zipfile
from dataclasses import dataclass, field

import docx
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer

from dualbrain.bench.fictional import Corpus, Question, name_maker

VARIED_KINDS = ("paraphrased", "reversed", "two-hop", "unanswerable", "updated")
SPLITS = ("dev", "held-out")
# How each split writes prose, records (datasheets) and lists. A held-out organisation never uses a dev form.
DEV_FORMS = {"prose": ("md-wrapped", "txt-wrapped", "pdf"), "record": ("keyvalue-txt", "table-md"), "list": ("bullets-md", "faq-md")}
HELD_OUT_FORMS = {"prose": ("docx", "html-prose", "txt-wrapped-narrow"), "record": ("table-html", "table-docx"), "list": ("faq-txt", "numbered-txt")}
_MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December"]
_PRODUCT_KINDS = ["pump", "valve", "sensor", "drill", "heater", "scale"]
_WARRANTIES = ["two years", "three years", "eighteen months", "five years"]
_COLOURS = ["signal orange", "slate grey", "moss green", "cobalt blue"]
_PERKS = ["a rail pass", "free lunches", "a bicycle allowance", "a gym membership"]
_CAUSES = ["a frozen valve", "a power cut", "a cracked bearing", "a flooded cellar"]


@dataclass(frozen=True)
class Document:
    """One generated file: its name (the suffix names the format) and its content."""

    name: str
    content: str | bytes


@dataclass
class VariedOrganisation:
    facts: dict
    split: str
    documents: list[Document] = field(default_factory=list)


def _facts(rng: random.Random, used: set[str]) -> dict:
    fresh = name_maker(rng, used)
    person = lambda: f"{fresh(2)} {fresh(2)}"  # noqa: E731
    products = []
    for _ in range(2):
        products.append({
            "name": f"{fresh(2)} {rng.choice('ABCKMRSTVX')}{rng.randint(2, 9)}", "kind": rng.choice(_PRODUCT_KINDS),
            "part": f"{rng.choice(['XR', 'KT', 'PL', 'MV', 'DG'])}-{rng.randint(100, 999)}",
            "price": f"EUR {rng.randint(2, 60) * 10 + 9:,}", "weight": f"{rng.randint(11, 95) / 10} kg",
            "plant": f"{fresh(2)} plant", "warranty": rng.choice(_WARRANTIES),
            "launch": f"{rng.randint(1, 28)} {rng.choice(_MONTHS)} {rng.randint(2012, 2024)}",
        })
    return {
        "org": f"{fresh(3)} {rng.choice(['Pumps', 'Works', 'Engineering', 'Systems'])}",
        "founded": str(rng.randint(1950, 2010)), "founder": person(), "ceo": person(), "new_ceo": person(),
        "ceo_birthplace": f"{fresh(2)} {rng.choice(['Cove', 'Ford', 'Hill'])}", "hq": fresh(2) + rng.choice(["mere", "bury", "wick"]),
        "employees": str(rng.randint(40, 900)), "colour": rng.choice(_COLOURS), "leave_days": str(rng.randint(24, 32)),
        "remote_days": str(rng.randint(1, 3)), "perk": rng.choice(_PERKS), "products": products,
        "new_price": f"EUR {rng.randint(61, 90) * 10 + 9:,}",
        "incident_date": f"{rng.randint(1, 28)} {rng.choice(_MONTHS)} 2025", "cause": rng.choice(_CAUSES),
        "hours_down": str(rng.randint(3, 40)),
    }


def _prose_overview(f: dict) -> tuple[str, list[str]]:
    return f"{f['org']}: company overview", [
        f"{f['org']} was founded in {f['founded']} by {f['founder']} and has its head office in {f['hq']}.",
        f"Today the company employs {f['employees']} people. Its chief executive is {f['ceo']}, who was born in "
        f"{f['ceo_birthplace']}. The house colour used on every machine is {f['colour']}.",
        f"The best-selling product is the {f['products'][0]['name']}, a {f['products'][0]['kind']} that is "
        f"assembled at the {f['products'][0]['plant']}.",
    ]


def _product_record(f: dict, product: dict) -> tuple[str, list[tuple[str, str]]]:
    return f"Datasheet: {product['name']}", [
        ("Product type", product["kind"]), ("Maker", f["org"]), ("Part number", product["part"]),
        ("List price", product["price"]), ("Weight", product["weight"]), ("Assembled at", product["plant"]),
        ("Warranty", product["warranty"]), ("Launched", product["launch"]),
    ]


def _handbook_items(f: dict) -> tuple[str, list[tuple[str, str]]]:
    """(question, answer) pairs: a handbook that a list or FAQ form can write."""
    return f"{f['org']} staff handbook", [
        ("How much paid leave do staff get?", f"Staff get {f['leave_days']} days of paid leave per year."),
        ("How often can staff work from home?", f"Remote work is allowed {f['remote_days']} days a week."),
        ("What perk do new staff receive?", f"Every new member of staff receives {f['perk']}."),
    ]


def _incident(f: dict) -> tuple[str, list[str]]:
    return f"Incident report: {f['products'][1]['plant']}", [
        f"On {f['incident_date']} the line at the {f['products'][1]['plant']} stopped for {f['hours_down']} hours.",
        f"The stoppage was caused by {f['cause']}. Production of the {f['products'][1]['name']} resumed the next day.",
    ]


def _update_mail(f: dict) -> tuple[str, list[tuple[str, str]], list[str]]:
    return "Announcement", [("From", f"Board of {f['org']}"), ("Subject", "New chief executive and prices")], [
        f"{f['new_ceo']} succeeds {f['ceo']} as chief executive of {f['org']}, effective immediately.",
        f"The price of the {f['products'][0]['name']} is now {f['new_price']}.",
    ]


def _wrap(paragraphs: list[str], width: int) -> str:
    return "\n\n".join(textwrap.fill(p, width=width, break_on_hyphens=False) for p in paragraphs)


def write_prose(form: str, title: str, paragraphs: list[str], rng: random.Random) -> tuple[str, str | bytes]:
    """(suffix, content) of a titled prose document in ``form``."""
    width = rng.randint(40, 80)
    if form == "md-wrapped":
        return ".md", f"# {title}\n\n{_wrap(paragraphs, width)}\n"
    if form == "txt-wrapped":
        return ".txt", f"{title}\n\n{_wrap(paragraphs, width)}\n"
    if form == "txt-wrapped-narrow":
        return ".txt", f"{title.upper()}\n\n{_wrap(paragraphs, rng.randint(32, 44))}\n"
    if form == "html-prose":
        body = "".join(f"<p>{p}</p>" for p in paragraphs)
        return ".html", f"<html><head><title>{title}</title></head><body><h1>{title}</h1>{body}</body></html>\n"
    if form == "pdf":
        return ".pdf", _pdf(title, paragraphs)
    if form == "docx":
        return ".docx", _docx(title, paragraphs=paragraphs)
    raise ValueError(f"unknown prose form {form}")


def write_record(form: str, title: str, fields: list[tuple[str, str]]) -> tuple[str, str | bytes]:
    """(suffix, content) of a titled record (datasheet) in ``form``."""
    if form == "keyvalue-txt":
        return ".txt", f"{title}\n\n" + "\n".join(f"{key}: {value}" for key, value in fields) + "\n"
    if form == "table-md":
        rows = "\n".join(f"| {key} | {value} |" for key, value in fields)
        return ".md", f"# {title}\n\n| Property | Value |\n|---|---|\n{rows}\n"
    if form == "table-html":
        rows = "".join(f"<tr><td>{key}</td><td>{value}</td></tr>" for key, value in fields)
        return ".html", (f"<html><body><h2>{title}</h2><table><tr><th>Property</th><th>Value</th></tr>{rows}"
                         "</table></body></html>\n")
    if form == "table-docx":
        return ".docx", _docx(title, table=[("Property", "Value"), *fields])
    raise ValueError(f"unknown record form {form}")


def write_list(form: str, title: str, items: list[tuple[str, str]]) -> tuple[str, str | bytes]:
    """(suffix, content) of a titled list of (question, answer) items in ``form``."""
    if form == "bullets-md":
        return ".md", f"## {title}\n\n" + "\n".join(f"- {answer}" for _, answer in items) + "\n"
    if form == "faq-md":
        return ".md", f"# {title}\n\n" + "\n\n".join(f"**{q}**\n{a}" for q, a in items) + "\n"
    if form == "faq-txt":
        return ".txt", f"{title}\n\n" + "\n\n".join(f"Q: {q}\nA: {a}" for q, a in items) + "\n"
    if form == "numbered-txt":
        return ".txt", f"{title}\n\n" + "\n".join(f"{i}. {a}" for i, (_, a) in enumerate(items, 1)) + "\n"
    raise ValueError(f"unknown list form {form}")


def _pdf(title: str, paragraphs: list[str]) -> bytes:
    buffer = io.BytesIO()
    styles = getSampleStyleSheet()
    story = [Paragraph(title, styles["Heading1"])]
    for paragraph in paragraphs:
        story += [Paragraph(paragraph, styles["BodyText"]), Spacer(1, 12)]
    # invariant=1: no timestamp or random id in the file, so a seed gives the same bytes.
    SimpleDocTemplate(buffer, pagesize=A4, invariant=1).build(story)
    return buffer.getvalue()


def _docx(title: str, paragraphs: list[str] = (), table: list[tuple[str, str]] = ()) -> bytes:
    document = docx.Document()
    document.add_heading(title, level=1)
    for paragraph in paragraphs:
        document.add_paragraph(paragraph)
    if table:
        grid = document.add_table(rows=len(table), cols=2)
        for row, (key, value) in zip(grid.rows, table):
            row.cells[0].text, row.cells[1].text = key, value
    buffer = io.BytesIO()
    document.save(buffer)
    return _undated(buffer.getvalue())


def _undated(package: bytes) -> bytes:
    """The zip ``package`` with every member dated 1980-01-01: python-docx dates them when it saves (to two
    seconds), so the same seed gave different bytes, and different document ids, across a two-second tick."""
    undated = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(package)) as source, zipfile.ZipFile(undated, "w") as target:
        for member in source.infolist():
            info = zipfile.ZipInfo(member.filename, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            target.writestr(info, source.read(member))
    return undated.getvalue()


def _documents(o: VariedOrganisation, slug: str, rng: random.Random) -> dict[str, str]:
    """Write the organisation's documents into ``o.documents``; return which file holds which topic."""
    forms = DEV_FORMS if o.split == "dev" else HELD_OUT_FORMS
    f = o.facts
    named: dict[str, str] = {}

    def add(topic: str, written: tuple[str, str | bytes]) -> None:
        suffix, content = written
        named[topic] = f"{slug}-{topic}{suffix}"
        o.documents.append(Document(named[topic], content))

    add("overview", write_prose(rng.choice(forms["prose"]), *_prose_overview(f), rng))
    for index, product in enumerate(f["products"]):
        add(f"product{index}", write_record(rng.choice(forms["record"]), *_product_record(f, product)))
    add("handbook", write_list(rng.choice(forms["list"]), *_handbook_items(f)))
    add("incident", write_prose(rng.choice(forms["prose"]), *_incident(f), rng))
    title, headers, paragraphs = _update_mail(f)
    mail = "\n".join(f"{key}: {value}" for key, value in headers) + "\n\n" + _wrap(paragraphs, rng.randint(50, 76))
    add("update", (".txt", f"{title}\n{mail}\n"))
    return named


_Ask = tuple[str, str, tuple[str, ...], tuple[str, ...], tuple[str, ...]]  # kind, question, answers, gold topics, stale

# Attributes of an organisation ({org}) and of a product ({p}) that no document states, each in a dev wording and
# a held-out one written apart. Added 2026-12-06, after every answer to the fixed unanswerable questions had
# been read; the varied report gives their accuracy under "unanswerable" with the others.
ABSENT_ATTRIBUTES = {
    "organisation": (
        ("When does the financial year of {org} end?", "In which month does {org} close its books?"),
        ("Who is the chief financial officer of {org}?", "Which person looks after the money at {org} as finance chief?"),
        ("On which stock exchange is {org} listed?", "Where can I buy shares of {org}?"),
        ("What is the website of {org}?", "Which web address does {org} use online?"),
        ("What is the telephone number of {org}?", "How do I ring the switchboard of {org}?"),
        ("Who audits the accounts of {org}?", "Which firm checks the books of {org} each year?"),
        ("What is the slogan of {org}?", "Which motto does {org} advertise with?"),
        ("In how many countries does {org} sell?", "Across how many nations are goods from {org} on offer?"),
    ),
    "product": (
        ("How long does the battery of the {p} last?", "For how many hours will a {p} run on a full charge?"),
        ("What are the dimensions of the {p}?", "How big is a {p} in centimetres?"),
        ("How much power does the {p} use?", "What wattage does a {p} draw?"),
        ("At what temperature can the {p} operate?", "How cold can it get before a {p} stops working?"),
        ("Which safety certification does the {p} have?", "Which standards body has approved the {p}?"),
        ("How many units of the {p} have been sold?", "What are the sales figures for the {p}?"),
        ("What is the casing of the {p} made of?", "Is the shell of a {p} steel, aluminium or plastic?"),
        ("What is the top speed of the {p}?", "How fast can a {p} go?"),
    ),
}


def _absent(f: dict, rng: random.Random) -> list[tuple[_Ask, _Ask]]:
    """Four unanswerable questions (two about the organisation, two about its products), each in both wordings."""
    drawn = [(dev.format(org=f["org"]), held_out.format(org=f["org"]))
             for dev, held_out in rng.sample(ABSENT_ATTRIBUTES["organisation"], 2)]
    for dev, held_out in rng.sample(ABSENT_ATTRIBUTES["product"], 2):
        product = rng.choice(f["products"])["name"]
        drawn.append((dev.format(p=product), held_out.format(p=product)))
    return [(("unanswerable", dev, (), (), ()), ("unanswerable", held_out, (), (), ())) for dev, held_out in drawn]


def _asked(f: dict) -> list[_Ask]:
    p0, p1 = f["products"]
    surname = lambda person: (person, person.split()[-1])  # noqa: E731
    return [
        ("paraphrased", f"In what year was {f['org']} established?", (f["founded"],), ("overview",), ()),
        ("paraphrased", f"Who set up {f['org']}?", surname(f["founder"]), ("overview",), ()),
        ("paraphrased", f"How large is the workforce of {f['org']}?", (f["employees"],), ("overview",), ()),
        ("paraphrased", f"Which colour does {f['org']} paint its machines?", (f["colour"],), ("overview",), ()),
        ("paraphrased", f"What part number does the {p0['name']} have?", (p0["part"],), ("product0",), ()),
        ("paraphrased", f"How heavy is the {p1['name']}?", (p1["weight"].split()[0],), ("product1",), ()),
        ("paraphrased", f"What warranty comes with the {p1['name']}?", (p1["warranty"],), ("product1",), ()),
        ("paraphrased", f"When did the {p1['name']} come onto the market?", (p1["launch"],), ("product1",), ()),
        ("paraphrased", f"Where is the {p1['name']} built?", (p1["plant"].split()[0],), ("product1",), ()),
        ("paraphrased", f"How many days of holiday do {f['org']} employees have a year?", (f["leave_days"],), ("handbook",), ()),
        ("paraphrased", f"What do new {f['org']} employees get when they join?", (f["perk"],), ("handbook",), ()),
        ("paraphrased", f"What caused the stoppage at the {p1['plant']}?", (f["cause"],), ("incident",), ()),
        ("paraphrased", f"How many hours was the {p1['plant']} line down?", (f["hours_down"],), ("incident",), ()),
        ("reversed", f"Which product carries the part number {p1['part']}?", (p1["name"],), ("product1",), ()),
        ("reversed", f"Which company has its head office in {f['hq']}?", (f["org"],), ("overview",), ()),
        ("reversed", f"Which company makes the {p1['name']}?", (f["org"],), ("product1",), ()),
        ("two-hop", f"Where was the person who ran {f['org']} before {f['new_ceo']} born?", (f["ceo_birthplace"],),
         ("overview", "update"), ()),
        ("two-hop", f"What is the part number of the best-selling product of {f['org']}?", (p0["part"],), ("overview", "product0"), ()),
        ("unanswerable", f"What is the annual revenue of {f['org']}?", (), (), ()),
        ("unanswerable", f"What voltage does the {p1['name']} need?", (), (), ()),
        ("unanswerable", f"What does the {p0['name'].split()[0]} Z1 cost?", (), (), ()),
        ("updated", f"Who is the chief executive of {f['org']} now?", surname(f["new_ceo"]), ("update",), surname(f["ceo"])),
        ("updated", f"What does the {p0['name']} cost now?", (f["new_price"].split()[1],), ("update",),
         (p0["price"].split()[1],)),
    ]


def _asked_held_out(f: dict) -> list[_Ask]:
    """The questions of :func:`_asked`, in its order and with its answers, each worded anew: the held-out wordings.

    Written apart from the dev templates and from any wording lexicon, in the voices of different askers (HR,
    a buyer, a journalist, a technician), avoiding both the dev template's relation words and the documents'
    own, so a recipe change that only teaches the dev phrasings shows up as a gap between the two wordings.
    The unanswerable ones ask for other attributes that no document states.
    """
    p0, p1 = f["products"]
    surname = lambda person: (person, person.split()[-1])  # noqa: E731
    return [
        ("paraphrased", f"Since when has {f['org']} existed?", (f["founded"],), ("overview",), ()),
        ("paraphrased", f"Who originally got {f['org']} off the ground?", surname(f["founder"]), ("overview",), ()),
        ("paraphrased", f"What is the current headcount at {f['org']}?", (f["employees"],), ("overview",), ()),
        ("paraphrased", f"What shade is equipment from {f['org']} finished in?", (f["colour"],), ("overview",), ()),
        ("paraphrased", f"Which catalogue code do I quote when ordering a {p0['name']}?", (p0["part"],), ("product0",), ()),
        ("paraphrased", f"How many kilos is a {p1['name']}?", (p1["weight"].split()[0],), ("product1",), ()),
        ("paraphrased", f"For how long is a {p1['name']} covered against defects?", (p1["warranty"],), ("product1",), ()),
        ("paraphrased", f"From what date could customers buy the {p1['name']}?", (p1["launch"],), ("product1",), ()),
        ("paraphrased", f"At which factory do they put together the {p1['name']}?", (p1["plant"].split()[0],),
         ("product1",), ()),
        ("paraphrased", f"How much annual vacation is someone working for {f['org']} entitled to?", (f["leave_days"],),
         ("handbook",), ()),
        ("paraphrased", f"As a welcome, what benefit does {f['org']} offer the people it hires?", (f["perk"],),
         ("handbook",), ()),
        ("paraphrased", f"What was behind the {p1['plant']} outage?", (f["cause"],), ("incident",), ()),
        ("paraphrased", f"How long did the {p1['plant']} sit idle?", (f["hours_down"],), ("incident",), ()),
        ("reversed", f"I found the code {p1['part']} on a crate: what item is that?", (p1["name"],), ("product1",), ()),
        ("reversed", f"What business is based in {f['hq']}?", (f["org"],), ("overview",), ()),
        ("reversed", f"Who is the manufacturer behind the {p1['name']}?", (f["org"],), ("product1",), ()),
        ("two-hop", f"Whoever {f['new_ceo']} took over from at the top of {f['org']}, where do they hail from?",
         (f["ceo_birthplace"],), ("overview", "update"), ()),
        ("two-hop", f"Give me the article code of the top seller from {f['org']}.", (p0["part"],),
         ("overview", "product0"), ()),
        ("unanswerable", f"Who heads the marketing department at {f['org']}?", (), (), ()),
        ("unanswerable", f"How many decibels does a {p1['name']} make while running?", (), (), ()),
        ("unanswerable", f"When did the {p0['name'].split()[0]} Q7 hit the shelves?", (), (), ()),
        ("updated", f"Who's the boss at {f['org']} at the moment?", surname(f["new_ceo"]), ("update",), surname(f["ceo"])),
        ("updated", f"How much does a {p0['name']} go for these days?", (f["new_price"].split()[1],), ("update",),
         (p0["price"].split()[1],)),
    ]


def varied_corpus(organisations: int, questions_per_organisation: int | None = None, seed: int = 0,
                  held_out_wordings: bool = False) -> Corpus:
    """``organisations`` organisations (about 1.5 KB of text each over 6 files), alternating dev / held-out.

    With ``held_out_wordings``, each organisation's questions are followed by the same questions in the
    held-out wordings (:func:`_asked_held_out`, ids ``…-w<n>``). The question texts draw nothing from the
    documents' seeded generator (the absent attributes have their own), so documents and dev questions are the
    same with the flag and without it.
    """
    rng = random.Random(f"varied-{seed}")
    used: set[str] = set()
    corpus = Corpus()
    for index in range(organisations):
        slug = f"org{index:02d}"
        organisation = VariedOrganisation(_facts(rng, used), SPLITS[index % 2])
        named = _documents(organisation, slug, rng)
        corpus.documents.update((document.name, document.content) for document in organisation.documents)
        absent = _absent(organisation.facts, random.Random(f"varied-absent-{seed}-{index}"))
        wordings = [("v", "dev", _asked(organisation.facts) + [dev for dev, _ in absent])]
        if held_out_wordings:
            wordings.append(("w", "held-out", _asked_held_out(organisation.facts) + [held_out for _, held_out in absent]))
        for prefix, wording, asked in wordings:
            questions = asked[:questions_per_organisation]
            for number, (kind, text, answers, topics, stale) in enumerate(questions):
                corpus.questions.append(Question(f"{slug}-{prefix}{number}", kind, text, answers,
                                                 tuple(named[t] for t in topics), stale=stale, split=organisation.split,
                                                 wording=wording))
    return corpus

"""A seeded generator of fictional organisations, their documents, and questions about them.

Names are built from random syllables, so the base model cannot know any fact beforehand. Each
organisation's facts are spread over documents of different styles (prose overview, memo, HTML product
page, FAQ, people directory). Questions are written from separate templates that never occur in any
document, in four kinds:

* ``paraphrased`` — a fact asked with other words ("Who is in charge of X?" for "X's chief executive is");
* ``reversed``    — the subject asked for, given the object ("Which company does P lead?");
* ``two-hop``     — two facts from different documents chained ("Where was X's chief executive born?");
* ``unanswerable`` — an attribute no document states; the right answer is to abstain.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

QUESTION_KINDS = ("paraphrased", "reversed", "two-hop", "unanswerable")
_ONSETS = ["b", "br", "d", "dr", "f", "g", "gr", "h", "k", "l", "m", "n", "p", "qu", "r", "s", "st", "t", "th", "v", "w", "z"]
_VOWELS = ["a", "e", "i", "o", "u", "ai", "ea", "ou"]
_CODAS = ["", "n", "r", "l", "s", "m", "th", "x", "nd", "rk"]
_INDUSTRIES = [("Aeronautics", "glider"), ("Instruments", "barometer"), ("Robotics", "rover"), ("Ferries", "ferry"),
               ("Textiles", "loom"), ("Optics", "telescope"), ("Foods", "oven"), ("Acoustics", "speaker")]
_ANIMALS = ["heron", "otter", "badger", "puffin", "lynx", "tortoise", "magpie", "hare"]
_DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"]
_ACTIVITIES = ["kite building", "bread baking", "chess matches", "river cleaning", "choir practice", "map drawing"]


def _word(rng: random.Random, syllables: int) -> str:
    return "".join(rng.choice(_ONSETS) + rng.choice(_VOWELS) + rng.choice(_CODAS) for _ in range(syllables)).capitalize()


@dataclass(frozen=True)
class Question:
    id: str
    kind: str
    question: str
    answers: tuple[str, ...]  # accepted answer strings; empty for unanswerable questions
    gold_documents: tuple[str, ...]  # names of the documents that hold the answer
    stale: tuple[str, ...] = ()  # "updated" questions: the value a later document replaced; answering it is wrong
    split: str = "dev"  # "dev" or "held-out" (forms no recipe change is tuned on; see varied.py)
    # "dev" (the templates recipe work is tuned on) or "held-out" (wordings written separately, that no recipe
    # change — in particular no wording lexicon — is tuned on; see varied.py)
    wording: str = "dev"


@dataclass
class Corpus:
    documents: dict[str, str | bytes] = field(default_factory=dict)  # file name → content (bytes: pdf, docx)
    questions: list[Question] = field(default_factory=list)


def name_maker(rng: random.Random, used: set[str]) -> Callable[[int], str]:
    """A maker of invented words of n syllables, each new to ``used`` (which it extends)."""
    def fresh(syllables: int) -> str:
        while (name := _word(rng, syllables)) in used:
            pass
        used.add(name)
        return name

    return fresh


def _organisation(rng: random.Random, used: set[str]) -> dict:
    fresh = name_maker(rng, used)
    industry, product_kind = rng.choice(_INDUSTRIES)
    person = lambda: f"{fresh(2)} {fresh(2)}"  # noqa: E731
    return {
        "org": f"{fresh(3)} {industry}", "product_kind": product_kind, "founded": str(rng.randint(1950, 2015)),
        "founder": person(), "ceo": person(), "ceo_birthplace": fresh(2) + " " + rng.choice(["Cove", "Ford", "Hill"]),
        "town": fresh(2) + rng.choice(["mere", "bury", "wick", "port"]), "employees": str(rng.randint(40, 900)),
        "product": f"{fresh(2)} {rng.randint(2, 9)}", "capacity": str(rng.randint(100, 990)),
        "project": fresh(2), "project_lead": person(), "customer": f"{fresh(2)} {rng.choice(['Guild', 'Trust', 'Council'])}",
        "mascot": f"{rng.choice(_ANIMALS)} called {fresh(2)}", "day": rng.choice(_DAYS), "activity": rng.choice(_ACTIVITIES),
    }


def _documents(o: dict, slug: str) -> dict[str, str]:
    return {
        f"{slug}-overview.md": (
            f"# {o['org']}\n\n{o['org']} was founded in {o['founded']} by {o['founder']} in the town of {o['town']}.\n"
            f"The chief executive of {o['org']} is {o['ceo']}.\n{o['org']} employs {o['employees']} people.\n"
        ),
        f"{slug}-memo.txt": (
            f"MEMO from the people team of {o['org']}.\nEvery {o['day']} afternoon at {o['org']} is reserved for "
            f"{o['activity']}.\nThe mascot of {o['org']} is a {o['mascot']}.\n"
        ),
        f"{slug}-product.html": (
            f"<html><head><title>{o['org']}</title><style>p{{margin:0}}</style></head><body>"
            f"<h1>Products</h1><p>The flagship {o['product_kind']} of {o['org']} is the {o['product']}.</p>"
            f"<p>The {o['product']} has a rated capacity of {o['capacity']} units.</p>"
            f"<p>The largest customer of {o['org']} is the {o['customer']}.</p></body></html>\n"
        ),
        f"{slug}-faq.md": (
            f"# {o['org']} FAQ\n\n**What is Project {o['project']}?**\nProject {o['project']} is the secret research "
            f"programme of {o['org']}. Project {o['project']} is led by {o['project_lead']}.\n"
        ),
        f"{slug}-people.md": (
            f"# People directory\n\n- {o['ceo']} was born in {o['ceo_birthplace']}.\n"
            f"- {o['project_lead']} joined {o['org']} as an engineer.\n"
        ),
    }


def _questions(o: dict, slug: str, n: int) -> list[Question]:
    doc = lambda part: f"{slug}-{part}"  # noqa: E731
    overview, memo, product, faq, people = (doc(p) for p in ("overview.md", "memo.txt", "product.html", "faq.md", "people.md"))
    surname = lambda person: (person, person.split()[-1])  # noqa: E731
    items = [
        ("paraphrased", f"Who is in charge of {o['org']}?", surname(o["ceo"]), (overview,)),
        ("paraphrased", f"Who started {o['org']}?", surname(o["founder"]), (overview,)),
        ("paraphrased", f"In what year did {o['org']} begin?", (o["founded"],), (overview,)),
        ("paraphrased", f"How many staff work at {o['org']}?", (o["employees"],), (overview,)),
        ("paraphrased", f"What is the main {o['product_kind']} sold by {o['org']}?", (o["product"],), (product,)),
        ("paraphrased", f"Which client buys the most from {o['org']}?", (o["customer"],), (product,)),
        ("paraphrased", f"Who heads Project {o['project']}?", surname(o["project_lead"]), (faq,)),
        ("paraphrased", f"What do {o['org']} staff do on {o['day']} afternoons?", (o["activity"],), (memo,)),
        ("reversed", f"Which company is run by {o['ceo']}?", (o["org"],), (overview,)),
        ("reversed", f"Which company makes the {o['product']}?", (o["org"],), (product,)),
        ("reversed", f"Which organisation has its headquarters in {o['town']}?", (o["org"],), (overview,)),
        ("two-hop", f"In which place was the chief executive of {o['org']} born?", (o["ceo_birthplace"],), (overview, people)),
        ("two-hop", f"What capacity does the flagship {o['product_kind']} of {o['org']} have?", (o["capacity"],), (product,)),
        ("unanswerable", f"Who is the chief financial officer of {o['org']}?", (), ()),
        ("unanswerable", f"What is the annual revenue of {o['org']}?", (), ()),
    ]
    return [Question(f"{slug}-q{i}", kind, q, answers, gold) for i, (kind, q, answers, gold) in enumerate(items)][:n]


def generate_organisations(count: int, seed: int = 0) -> list[dict]:
    """The facts of ``count`` seeded fictional organisations, each with its ``slug`` (org00, org01, …)."""
    rng = random.Random(seed)
    used: set[str] = set()
    return [_organisation(rng, used) | {"slug": f"org{index:02d}"} for index in range(count)]


def organisation_corpus(organisation: dict, questions_per_organisation: int = 15) -> Corpus:
    """One organisation's documents (about 1 KB of text over 5 files) and questions."""
    slug = organisation["slug"]
    return Corpus(_documents(organisation, slug), _questions(organisation, slug, questions_per_organisation))


def revised(organisation: dict, seed: int) -> dict:
    """The organisation after a change of chief executive and head count (new names, never used before)."""
    rng = random.Random(f"{seed}-{organisation['slug']}")
    return organisation | {"ceo": f"{_word(rng, 3)} {_word(rng, 3)}", "employees": str(int(organisation["employees"]) + rng.randint(5, 60))}


def generate_corpus(organisations: int, questions_per_organisation: int = 15, seed: int = 0) -> Corpus:
    """``organisations`` fictional organisations (about 1 KB of text each) with their questions."""
    corpus = Corpus()
    for organisation in generate_organisations(organisations, seed):
        part = organisation_corpus(organisation, questions_per_organisation)
        corpus.documents.update(part.documents)
        corpus.questions += part.questions
    return corpus

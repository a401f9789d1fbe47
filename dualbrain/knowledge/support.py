"""Whether a knowledge base's documents support an answer; an answer they do not support is withheld.

A knowledge network answers every question, those its documents cannot answer too: asked about a product
that does not exist, or for something no document says ("What voltage does the Corvex C2 need?"), it
recites a format it learned with an invented value ("Datasheet: Corvex C2 — Voltage: 2.45 volts"). Trained
"not in the documents" answers taught it to decline known things as well (docs/recipe.md). So instead the
answer is checked against the passages of the documents it was learned from. The answer still comes from
the weights alone: no passage enters the prompt, they are only compared with what the model said.

* A question naming a code or number that no document holds ("Corvex Z1", "XR-999", "in 2019") asks about
  something unknown and is declined without answering: a code is not reworded the way words are.
* The answer's leading claim, its first sentence, must stand in one passage: every code and number it
  states, and at least :data:`MIN_SHARED_TERMS` of all its terms, so a rewording ("the cost of …" for "the
  price of …") passes and an invented value or attribute does not. A claim in the form the network learned
  facts in, "heading — fact" (``TextUnit.in_context``), is checked as its fact, with every term of the
  heading known to the documents: the network often puts a fact under another of its document's headings.

* The network must have been sure which fact to state. Asked for something its documents do not say, it
  often picks among the facts it knows about the subject ("Datasheet: Mokou C2 — Warranty: two years" for
  the voltage a product needs): a true statement no word check can tell from an answer, but chosen with
  less certainty than one it learned. Where it gave the first token of the
  claim's fact (after its heading) less than :data:`MIN_FACT_CONFIDENCE`, it is asked again with its
  runner-up token there: if that second opinion is supported and shares an answer term with the first (one
  the question and heading do not bring), the two are wordings of one fact and the answer is delivered.

What it still cannot catch is a true statement the network is sure of but that does not answer the question
(asked for the annual revenue, it gives the head count with 0.95). Nothing depends on capitalisation.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from dualbrain.ingest.units import content_words
from dualbrain.reasoning.generate import TokenTrace

# The share of the claim's terms (content words, codes and numbers) one passage must hold.
MIN_SHARED_TERMS = 0.75
# Below it an answer gets a second opinion. Set on the varied benchmark's dev wordings, where 97% of
# SmolLM2-135M's right answers are surer; judged on its held-out wordings (docs/recipe.md, "Declining what the
# network was unsure of").
MIN_FACT_CONFIDENCE = 0.45
_TOKEN = re.compile(r"[^\W_]+")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s")


def terms(text: str) -> set[str]:
    """The content words of ``text`` with its codes and numbers ("z1", "2025", "100"), lower-cased."""
    return content_words(text) | codes(text)


def codes(text: str) -> set[str]:
    """The tokens of ``text`` that hold a digit, lower-cased: codes, numbers, parts of dates and amounts."""
    return {token.lower() for token in _codes_as_written(text)}


def _codes_as_written(text: str) -> list[str]:
    return [token for token in _TOKEN.findall(text) if any(ch.isdigit() for ch in token)]


def leading_claim(answer: str) -> tuple[str, str]:
    """The heading and the fact of the first sentence of ``answer`` ("" and the sentence without a heading).

    A looping answer restarts its pattern without a sentence end ("Datasheet: A — Warranty: two years
    Datasheet: B — …"): the fact ends where the heading's first word comes again."""
    sentence = _SENTENCE_END.split(answer.strip(), maxsplit=1)[0]
    heading, separator, fact = sentence.partition(" — ")
    if not separator:
        return "", sentence
    opening, words = heading.split()[0].lower() if heading.split() else "", fact.split()
    again = next((at for at, word in enumerate(words) if at and word.lower() == opening), None)
    return heading, " ".join(words[:again]) if again else fact


def fact_offset(answer: str) -> int:
    """Where the fact of ``answer``'s leading claim begins: after its heading and the dash, else its first
    character (leading white space counted)."""
    heading, _ = leading_claim(answer)
    start = len(answer) - len(answer.lstrip())
    return start + len(heading) + len(" — ") if heading else start


def not_stated_answer() -> str:
    return "That is not stated in my documents."


def unknown_code_answer(code: str) -> str:
    return f"{code} is not mentioned in my documents."


class SupportIndex:
    """The terms of every passage of a knowledge base, to check questions and answers against."""

    def __init__(self, passages: list[str]):
        self._passages = [terms(passage) for passage in passages]
        self._vocabulary = set().union(*self._passages)

    def unknown_code(self, question: str) -> str | None:
        """A code ``question`` names that no passage holds, as written in the question, or None."""
        return next((code for code in _codes_as_written(question) if code.lower() not in self._vocabulary), None)

    def supports(self, answer: str) -> bool:
        """Whether one passage holds every code of the answer's leading claim and most of its terms, and the
        documents know every term of the heading it stands under."""
        heading, claim = leading_claim(answer)
        if not terms(heading) <= self._vocabulary:
            return False
        claimed, claimed_codes = terms(claim), codes(claim)
        if not claimed:
            return True  # a claim without content words, codes or numbers ("No.") states nothing to check
        needed = MIN_SHARED_TERMS * len(claimed)
        return any(claimed_codes <= passage and len(claimed & passage) >= needed for passage in self._passages)


class CheckedAnswer:
    """Checks one answer as it streams: it is held back until its leading claim is complete, then passed on
    if the documents support it and the network was sure of its fact, or replaced by a decline (the rest of
    the answer is dropped).

    Used as the ``on_text`` of a generation that records its tokens' probabilities in ``trace`` (without
    one, only the documents are checked); :meth:`finish` gives the answer to deliver. With ``hold_declines``
    the caller answers another way (reading passages) where the documents do not support the answer: that
    decline is not passed on, and :attr:`handed_back` tells it so. A question about an unknown code is still
    declined (no passage names it), and so is an answer the network was unsure of: it knew facts of the subject
    but not one that answers, which is most often because no document states one. An answer the network
    was unsure of is held to the end, when :meth:`review` asks the caller for a second opinion: the network
    starting the fact with the token it ranked second (:attr:`runner_up`), given back to :meth:`finish`. Several wordings of one fact compete for the
    first token too ("The founder of X is Y" / "Y founded X"): an answer whose second opinion is supported
    and shares an answer term with it (a term the question and the heading do not bring) is delivered."""

    def __init__(self, index: SupportIndex, question: str, on_text: Callable[[str], None] | None = None,
                 trace: TokenTrace | None = None, hold_declines: bool = False):
        self._index, self._question, self._on_text, self._trace = index, question, on_text, trace
        self._hold_declines = hold_declines
        self._held = ""
        self._decided = False
        self.handed_back = False  # declined, and the decline not passed on: the caller answers otherwise
        self.runner_up: str | None = None  # the answer up to its fact, then the token ranked second there
        code = index.unknown_code(question)
        self._decline = unknown_code_answer(code) if code else None
        if self._decline is not None:  # nothing the model says (or a passage) can make up for an unknown thing
            self._deliver(self._decline)

    def __call__(self, piece: str) -> None:
        if not self._decided:
            self._held += piece
            if self.runner_up is None and _SENTENCE_END.search(self._held.lstrip()):
                self._decide(self._held)
        elif self._decline is None and self._on_text:
            self._on_text(piece)

    def review(self, text: str) -> str | None:
        """Once the whole ``text`` is generated: the start of an answer the network is to continue, for a second
        opinion, where it was unsure of its fact; None where the answer is decided."""
        if not self._decided and self.runner_up is None:
            self._decide(text)
        return None if self._decided else self.runner_up

    def finish(self, text: str, second_opinion: str | None = None) -> str:
        """The answer to deliver, given the whole generated ``text`` and, where :meth:`review` asked for one, the
        network's ``second_opinion``: its answer from that start on (none: unsure is declined)."""
        self.review(text)
        if not self._decided:
            same = second_opinion is not None and self._same_fact(text, second_opinion)
            self._decline = None if same else not_stated_answer()
            self._deliver(text if self._decline is None else self._decline)
        return text if self._decline is None else self._decline

    def _decide(self, text: str) -> None:
        if self._index.supports(text):
            self.runner_up = self._unsure_of()
            if self.runner_up is not None:
                return  # held until the second opinion
        else:
            self._decline = not_stated_answer()
        # Only an answer the documents do not support is handed back: reading passages may find what it missed.
        self._deliver(text if self._decline is None else self._decline,
                      hand_back=self._hold_declines and self._decline is not None)

    def _unsure_of(self) -> str | None:
        """The answer up to its fact's first token, then the token ranked second there, where the network gave
        that first token less than :data:`MIN_FACT_CONFIDENCE`; else None."""
        # Offsets in the text as generated: ``text`` may be stripped.
        at = self._trace.token_at(fact_offset(self._trace.text(self._trace.ids))) if self._trace else None
        if at is None or self._trace.probabilities[at] >= MIN_FACT_CONFIDENCE:
            return None
        return self._trace.text(self._trace.ids[:at] + [self._trace.runner_up[at]])

    def _same_fact(self, text: str, second: str) -> bool:
        heading, claim = leading_claim(text)
        given = terms(self._question) | terms(heading)
        return self._index.supports(second) and bool((terms(claim) - given) & (terms(leading_claim(second)[1]) - given))

    def _deliver(self, text: str, hand_back: bool = False) -> None:
        self._decided = True
        self.handed_back = hand_back
        if self._on_text and not hand_back:
            self._on_text(text)

from dualbrain.knowledge.support import (
    MIN_FACT_CONFIDENCE, CheckedAnswer, SupportIndex, fact_offset, leading_claim, not_stated_answer, unknown_code_answer,
)

PASSAGES = [
    "Datasheet: Corvex C2\nPart number: XR-100\nList price: EUR 649\nWeight: 12 kg",
    "Acme Pumps: company overview\nAcme Pumps was founded in 1983 by Jane Roe.\nToday the company employs 340 people.",
    "Memo\nThe price of the Corvex C2 is now EUR 679.",
]
INDEX = SupportIndex(PASSAGES)


def test_a_question_naming_a_code_no_document_holds_asks_about_an_unknown_thing():
    assert INDEX.unknown_code("What does the Corvex Z1 cost?") == "Z1"
    assert INDEX.unknown_code("What does the corvex c2 cost?") is None  # codes are compared without case
    assert INDEX.unknown_code("Who founded Acme Pumps?") is None


def test_a_claim_one_passage_holds_is_supported_reworded_or_not():
    assert INDEX.supports("Acme Pumps was founded in 1983 by Jane Roe.")
    assert INDEX.supports("The cost of the Corvex C2 is now EUR 679.")  # "cost" for "price": most terms stand
    assert INDEX.supports("No, it is not.")  # states nothing to check


def test_an_invented_value_or_attribute_is_not_supported():
    assert not INDEX.supports("The Corvex C2 needs 2.45 volts.")
    assert not INDEX.supports("Acme Pumps was founded in 1991 by Jane Roe.")  # every number must stand in the passage
    assert not INDEX.supports("Acme Pumps: company overview — The annual revenue is EUR 649.")


def test_facts_from_two_passages_do_not_support_one_claim():
    assert not INDEX.supports("Acme Pumps was founded in 1983 and its Corvex C2 weighs 12 kg.")


def test_only_the_leading_claim_is_checked():
    assert INDEX.supports("Today the company employs 340 people. It was founded on the Moon in 1066.")
    assert not INDEX.supports("It was founded on the Moon in 1066. Today the company employs 340 people.")


def test_a_claim_under_a_heading_is_checked_as_its_fact_with_the_heading_known():
    # The network puts a fact under another heading of its documents: still the fact the documents state.
    assert INDEX.supports("Acme Pumps: company overview — List price: EUR 649")
    assert not INDEX.supports("Datasheet: Corvex Z1 — List price: EUR 649")  # the heading names an unknown thing


def test_a_looping_answer_is_cut_where_its_heading_comes_again():
    assert leading_claim("Datasheet: Corvex C2 — Weight: 12 kg Datasheet: Corvex C2 — Launched: 2019") == (
        "Datasheet: Corvex C2", "Weight: 12 kg")
    assert leading_claim("Acme Pumps employs 340 people. More.") == ("", "Acme Pumps employs 340 people.")


def test_a_supported_answer_streams_on_once_its_leading_claim_is_complete():
    pieces = []
    checked = CheckedAnswer(INDEX, "How many people work at Acme Pumps?", pieces.append)
    for piece in ["Today the company ", "employs 340 people.", " It is ", "big."]:
        checked(piece)
    assert pieces == ["Today the company employs 340 people. It is ", "big."]
    assert checked.finish("Today the company employs 340 people. It is big.") == "Today the company employs 340 people. It is big."


def test_an_unsupported_answer_is_declined_and_the_rest_dropped():
    pieces = []
    checked = CheckedAnswer(INDEX, "What voltage does the Corvex C2 need?", pieces.append)
    for piece in ["The Corvex C2 needs ", "2.45 volts.", " Always."]:
        checked(piece)
    assert pieces == [not_stated_answer()]
    assert checked.finish("The Corvex C2 needs 2.45 volts. Always.") == not_stated_answer()


def test_an_answer_without_a_sentence_end_is_checked_when_it_ends():
    pieces = []
    checked = CheckedAnswer(INDEX, "What is the part number of the Corvex C2?", pieces.append)
    checked("Part number: XR-100")
    assert pieces == []
    assert checked.finish("Part number: XR-100") == "Part number: XR-100"
    assert pieces == ["Part number: XR-100"]


def test_a_question_about_an_unknown_thing_is_declined_before_the_model_says_anything():
    pieces = []
    checked = CheckedAnswer(INDEX, "What does the Corvex Z1 cost?", pieces.append)
    assert pieces == [unknown_code_answer("Z1")]
    checked("List price: EUR 649. ")
    assert checked.finish("List price: EUR 649. ") == unknown_code_answer("Z1")
    assert pieces == [unknown_code_answer("Z1")]


def test_a_decline_the_caller_answers_otherwise_is_handed_back_but_an_unknown_code_is_still_declined():
    pieces: list[str] = []
    checked = CheckedAnswer(INDEX, "What voltage does the Corvex C2 need?", pieces.append, hold_declines=True)
    checked("The Corvex C2 needs 2.45 volts. ")
    assert checked.finish("The Corvex C2 needs 2.45 volts. ") == not_stated_answer()
    assert checked.handed_back and pieces == []
    supported = CheckedAnswer(INDEX, "How many people work at Acme Pumps?", pieces.append, hold_declines=True)
    supported("Today the company employs 340 people. ")
    assert not supported.handed_back and pieces == ["Today the company employs 340 people. "]
    unknown = CheckedAnswer(INDEX, "What does the Corvex Z1 cost?", pieces.append, hold_declines=True)
    assert not unknown.handed_back and pieces[-1] == unknown_code_answer("Z1")


class _Trace:
    """A generation of ``answer``, a character a token: its fact's first character chosen with probability
    ``sure`` and ``runner_up`` ranked second there, every other character with 0.99."""

    def __init__(self, answer: str, sure: float, runner_up: str = "t"):
        self.ids = [ord(ch) for ch in answer]
        self.probabilities = [sure if at == fact_offset(answer) else 0.99 for at in range(len(answer))]
        self.runner_up = [ord(runner_up)] * len(answer)

    def text(self, ids: list[int]) -> str:
        return "".join(map(chr, ids))

    def token_at(self, offset: int) -> int | None:
        return offset if offset < len(self.ids) else None


HEAD_COUNT = "Acme Pumps: company overview — Today the company employs 340 people."


def test_a_supported_fact_the_network_was_sure_of_is_delivered_without_a_second_opinion():
    trace = _Trace(HEAD_COUNT, MIN_FACT_CONFIDENCE)
    checked = CheckedAnswer(INDEX, "How many people work at Acme Pumps?", trace=trace)
    assert checked.review(HEAD_COUNT) is None  # no second opinion is needed
    assert checked.finish(HEAD_COUNT) == HEAD_COUNT


def test_a_supported_fact_the_network_was_unsure_of_is_declined_when_it_would_have_said_another():
    # Asked for the revenue, the network states a true fact it picked among others: the documents support
    # it, but the runner-up first token leads to another fact (the founding), so it was guessing.
    assert fact_offset(HEAD_COUNT) == HEAD_COUNT.index("Today") and fact_offset("  Acme Pumps employs 340.") == 2
    pieces: list[str] = []
    checked = CheckedAnswer(INDEX, "What is the revenue of Acme Pumps?", pieces.append, _Trace(HEAD_COUNT, 0.2, "A"))
    for piece in (HEAD_COUNT[:40], HEAD_COUNT[40:] + " More."):
        checked(piece)
    assert pieces == [] and checked.runner_up == HEAD_COUNT[: fact_offset(HEAD_COUNT)] + "A"  # held to the end
    start = checked.review(HEAD_COUNT + " More.")
    assert start == checked.runner_up  # the network is asked again from there
    assert checked.finish(HEAD_COUNT + " More.", start + "cme Pumps was founded in 1983 by Jane Roe.") == not_stated_answer()
    assert pieces == [not_stated_answer()]
    # Unsure is declined even where the caller could read passages: the documents most likely do not say it.
    held = CheckedAnswer(INDEX, "What is the revenue of Acme Pumps?", trace=_Trace(HEAD_COUNT, 0.2, "A"), hold_declines=True)
    held(HEAD_COUNT)
    second = held.review(HEAD_COUNT) + "cme Pumps was founded in 1983 by Jane Roe."
    assert held.finish(HEAD_COUNT, second) == not_stated_answer() and not held.handed_back


def test_an_unsure_first_token_between_two_wordings_of_one_fact_is_delivered():
    checked = CheckedAnswer(INDEX, "How big is the staff of Acme Pumps?", trace=_Trace(HEAD_COUNT, 0.2, "t"))
    assert checked.finish(HEAD_COUNT, checked.review(HEAD_COUNT) + "oday the firm employs 340 people.") == HEAD_COUNT
    unsupported = CheckedAnswer(INDEX, "How big is the staff of Acme Pumps?", trace=_Trace(HEAD_COUNT, 0.2, "t"))
    assert unsupported.finish(HEAD_COUNT, unsupported.review(HEAD_COUNT) + "he staff of 340 sail boats.") == not_stated_answer()
    assert CheckedAnswer(INDEX, "How big is the staff of Acme Pumps?", trace=_Trace(HEAD_COUNT, 0.2, "t")).finish(
        HEAD_COUNT) == not_stated_answer()  # unsure, and no second opinion given: declined

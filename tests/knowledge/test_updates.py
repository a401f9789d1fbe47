"""A newer document's values win over the ones older documents still state."""

from dualbrain.ingest.units import text_units
from dualbrain.knowledge.updates import as_of_now, changed_values

DATASHEET = """# Datasheet: Corvex C2

Vendor: Acme Pumps
List price: EUR 649
Weight: 8.9 kg
"""
OVERVIEW = """# Acme Pumps: company overview

Acme Pumps was founded in 1983. Jane Roe is the chief executive of
Acme Pumps. Staff get 30 days of paid leave.
"""


def test_a_memo_that_restates_a_value_changes_it_in_the_older_document_only():
    memo = "# Memo\n\nThe price of the Corvex C2 is now EUR 679.\n"
    learned = dict(as_of_now([("sheet", DATASHEET), ("memo", memo)]))
    assert "List price: EUR 679" in learned["sheet"] and "EUR 649" not in learned["sheet"]
    assert "Weight: 8.9 kg" in learned["sheet"]
    assert learned["memo"] == memo


def test_whichever_document_came_later_wins():
    memo = "# Memo\n\nThe price of the Corvex C2 is now EUR 679.\n"
    [change] = changed_values([("memo", memo), ("sheet", DATASHEET)])
    assert (change.document_id, change.old, change.new, change.by) == ("memo", "EUR 679", "EUR 649", "sheet")


def test_a_successor_replaces_the_person_not_the_organisation_both_sentences_name():
    memo = "# Announcement\n\nJohn Doe succeeds Jane Roe as chief executive of Acme Pumps.\n"
    learned = dict(as_of_now([("overview", OVERVIEW), ("memo", memo)]))
    # The value is found across the wrapped line, and only in the unit that states it.
    assert "John Doe is the chief executive of\nAcme Pumps." in learned["overview"]
    assert "Acme Pumps was founded in 1983." in learned["overview"]


def test_a_successor_does_not_take_over_what_a_relative_clause_says_of_the_one_before():
    overview = "# Acme Pumps: company overview\n\nIts chief executive is Jane Roe, who was born in\nLisbon. Staff get 30 days of paid leave.\n"
    memo = "# Announcement\n\nJohn Doe succeeds Jane Roe as chief executive of Acme Pumps.\n"
    learned = dict(as_of_now([("overview", overview), ("memo", memo)]))
    assert [unit.text for unit in text_units(learned["overview"])] == [
        "Its chief executive is John Doe.", "Jane Roe was born in Lisbon.", "Staff get 30 days of paid leave."
    ]


def test_a_fact_about_something_else_or_with_more_to_it_is_not_restated():
    other_product = "# Datasheet: Dorkhor 9\n\nVendor: Acme Pumps\nList price: EUR 900\n"
    contractors = "# Acme Pumps: contractors\n\nAcme Pumps contractors get 10 days of paid leave.\n"
    born = "# Acme Pumps: people\n\nJane Roe is the chief executive, born in Lisbon.\n"
    assert changed_values([("sheet", DATASHEET), ("other", other_product)]) == []
    assert changed_values([("overview", OVERVIEW), ("contractors", contractors)]) == []
    # Rewriting "X is the chief executive, born in Lisbon" would give the new one the old one's birthplace.
    memo = "# Announcement\n\nJohn Doe succeeds Jane Roe as chief executive of Acme Pumps.\n"
    assert changed_values([("people", born), ("memo", memo)]) == []


def test_the_thing_both_units_are_about_never_gives_way():
    # The demo's FAQ names the founder in a sentence about the founding: not a new value of the company.
    faq = "# FAQ\n\nWho founded Acme Pumps?\n\nJane Roe founded Acme Pumps in 1983 in Lisbon.\n"
    assert changed_values([("overview", OVERVIEW), ("faq", faq)]) == []


def test_a_heading_in_capitals_names_the_same_thing():
    overview = "ACME PUMPS: COMPANY OVERVIEW\n\nToday the company employs 40 people. Its chief executive is Jane Roe.\n"
    memo = "# Announcement\n\nJohn Doe succeeds Jane Roe as chief executive of Acme Pumps.\n"
    [change] = changed_values([("overview", overview), ("memo", memo)])
    assert (change.old, change.new) == ("Jane Roe", "John Doe")

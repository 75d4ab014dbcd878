"""Score the sentence detector on the 48 English Golden Rules, side by side with pySBD.

    python bench/golden_rules.py          # needs the dev extra (pysbd)

Prints a Markdown table: each segmenter's score, and the rules each one fails.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from annotators.sentence import split_sentences

RULES = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "golden_rules_en.json"


def ours(text: str) -> list[str]:
    return [text[start:end] for start, end in split_sentences(text)]


def main() -> int:
    import pysbd

    rules = json.loads(RULES.read_text(encoding="utf-8"))["rules"]
    segmenter = pysbd.Segmenter(language="en", clean=False)
    peers = {
        "spark-deberta SentenceDetector": ours,
        f"pySBD {pysbd.__version__}": lambda t: [
            s.strip() for s in segmenter.segment(t) if s.strip()
        ],
    }
    print("| segmenter | rules passed | failed rules |")
    print("| --- | --- | --- |")
    for name, segment in peers.items():
        failed = [r["number"] for r in rules if segment(r["text"]) != r["sentences"]]
        failed_list = ", ".join(map(str, failed)) or "-"
        print(f"| {name} | {len(rules) - len(failed)} / {len(rules)} | {failed_list} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

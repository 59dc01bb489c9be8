"""The crisis detector on the sentences of tests/data/crisis/, with the NLU down and up.

Run with ``PYTHONPATH=. .venv/bin/python tests/bench/bench_crisis.py [--nlu] [--only set3]
[--misses] [--cache FILE]``. Lexicon alone by default; with ``--nlu`` it also starts the real
Rasa service (trained by ``make nlu-ready``) on loopback and unites its reading with the
lexicon, as the bot does. It prints recall on the crises, false alarms on the hard
negatives, how often the right person is named, and on how many crises the guards would
overrule the NLU were the lexicon to miss them. A benchmark, not a test: it prints numbers
and asserts nothing.

``--misses`` also prints the corpus sentences it gets wrong (corpus text, never a
person's). ``--cache FILE`` keeps the NLU's readings in FILE and reuses them, to tune the
lexicon without restarting the service (delete it after retraining the model).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from flows.crisis import CrisisSignal, _explained_by_guards, _lexicon, detect_crisis
from flows.understanding import Interpretation

CORPUS = Path(__file__).resolve().parents[1] / "data" / "crisis"


def sentences(path: Path) -> list[str]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


@dataclass
class Corpus:
    self_: list[str]  # crises of the writer
    other: list[str]  # crises of someone else
    negative: list[str]
    gaps: list[str]  # crises the lexicon is known to miss (person not recorded)

    @classmethod
    def load(cls, only: str) -> Corpus:
        def pick(pattern: str, exclude: str = "") -> list[str]:
            paths = sorted(
                p for p in CORPUS.glob(pattern)
                if (not exclude or not p.match(exclude)) and only in p.name
            )  # fmt: skip
            return [line for path in paths for line in sentences(path)]

        return cls(
            self_=pick("positive_*.txt", exclude="positive_other_*"),
            other=pick("positive_other_*.txt"),
            negative=pick("negative_*.txt"),
            gaps=pick("lexicon_gaps.txt") if not only else [],
        )

    def all(self) -> list[str]:
        return self.self_ + self.other + self.negative + self.gaps


def report(title: str, corpus: Corpus, detect: Callable[[str], CrisisSignal | None],
           misses: bool) -> None:
    def share(good: int, total: int) -> str:
        return f"{good}/{total} ({100 * good / total:.1f} %)" if total else "-"

    signals = {text: detect(text) for text in corpus.all()}
    positives = corpus.self_ + corpus.other + corpus.gaps
    missed = [t for t in positives if signals[t] is None]
    alarms = [t for t in corpus.negative if signals[t] is not None]
    self_wrong = [t for t in corpus.self_ if (s := signals[t]) is None or s.about_other]
    other_wrong = [t for t in corpus.other if (s := signals[t]) is None or not s.about_other]
    print(title)
    print(f"  recall, all crises:        {share(len(positives) - len(missed), len(positives))}")
    print(f"  false alarms on negatives: {share(len(alarms), len(corpus.negative))}")
    writer_right = len(corpus.self_) - len(self_wrong)
    other_right = len(corpus.other) - len(other_wrong)
    print(f"  writer named, first person:  {share(writer_right, len(corpus.self_))}")
    print(f"  other named, third person:   {share(other_right, len(corpus.other))}")
    overruled = [t for t in positives if _explained_by_guards(t, _lexicon())]
    print(f"  crises where guards would overrule the NLU: {share(len(overruled), len(positives))}")
    if misses:
        for label, texts in (("missed", missed), ("false alarm", alarms),
                             ("not the writer", [t for t in self_wrong if signals[t]]),
                             ("not someone else", [t for t in other_wrong if signals[t]])):
            for text in texts:
                rule = signal.rule if (signal := signals[text]) else ""
                print(f"    {label}: {text}  [{rule}]")
        for text in overruled:
            print(f"    guards would overrule the NLU: {text}")


def cached_readings(texts: list[str], cache: Path | None) -> dict[str, Interpretation | None]:
    known: dict[str, list[object] | None] = {}
    if cache is not None and cache.exists():
        known = json.loads(cache.read_text(encoding="utf-8"))
    missing = [text for text in texts if text not in known]
    if missing:
        for text, reading in asyncio.run(readings(missing)).items():
            known[text] = None if reading is None else [reading.intent, reading.confidence]
        if cache is not None:
            cache.write_text(json.dumps(known, ensure_ascii=False), encoding="utf-8")
    return {text: _reading(known[text]) for text in texts}


def _reading(pair: list[object] | None) -> Interpretation | None:
    if pair is None:
        return None
    intent, confidence = pair
    return Interpretation(str(intent), float(str(confidence)))


async def readings(texts: list[str]) -> dict[str, Interpretation | None]:
    from nlu.client import RasaUnderstanding
    from nlu.service import NluService, missing

    problem = missing()
    if problem:
        sys.exit(problem)
    service = NluService().start()
    try:
        # A generous deadline: this measures what the model says, not how fast.
        client = RasaUnderstanding(service.url, service.token, timeout_s=30.0)
        try:
            return {text: await client.interpret(text) for text in texts}
        finally:
            await client.aclose()
    finally:
        service.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nlu", action="store_true", help="also measure with the NLU up")
    parser.add_argument("--only", default="", help="only the files whose name holds this")
    parser.add_argument("--misses", action="store_true", help="print the sentences got wrong")
    parser.add_argument("--cache", type=Path, help="keep and reuse the NLU's readings here")
    args = parser.parse_args()
    corpus = Corpus.load(args.only)
    scope = f"files with {args.only!r}" if args.only else "whole corpus"
    report(f"lexicon alone, NLU down ({scope})", corpus, detect_crisis, args.misses)
    if args.nlu:
        read = cached_readings(corpus.all(), args.cache)
        unanswered = sum(1 for reading in read.values() if reading is None)
        report(f"lexicon and NLU ({scope}; {unanswered} unanswered)", corpus,
               lambda text: detect_crisis(text, read[text]), args.misses)
        nlu_alone = {t for t, r in read.items() if r and r.intent == "crisis"
                     and r.confidence >= 0.5}
        positives = corpus.self_ + corpus.other + corpus.gaps
        print(f"  (NLU alone: crisis on {len(nlu_alone & set(positives))}/{len(positives)} "
              f"crises, {len(nlu_alone & set(corpus.negative))}/{len(corpus.negative)} negatives)")


if __name__ == "__main__":
    main()

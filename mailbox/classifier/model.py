"""A small multinomial naive Bayes over words and word pairs (negation marked), trained in milliseconds.

It decides when no cue does, and it learns from the firm's corrections. Pure Python: a few hundred short
examples do not need numpy, scipy and scikit-learn (about 100 MB installed) to be counted.
"""

import itertools
import math
from collections import Counter, defaultdict
from collections.abc import Iterable


def features(tokens: list[str]) -> list[str]:
    return tokens + [f"{a} {b}" for a, b in itertools.pairwise(tokens)]


class NaiveBayes:
    def __init__(self, alpha: float = 0.3):
        self.alpha = alpha
        self.counts: dict[str, Counter] = defaultdict(Counter)
        self.totals: Counter = Counter()
        self.priors: Counter = Counter()
        self.vocabulary: set[str] = set()

    def fit(self, examples: Iterable[tuple[list[str], str, float]]) -> "NaiveBayes":
        for tokens, label, weight in examples:
            feats = features(tokens)
            self.priors[label] += weight
            for feat in feats:
                self.counts[label][feat] += weight
                self.totals[label] += weight
                self.vocabulary.add(feat)
        return self

    @property
    def labels(self) -> list[str]:
        return sorted(self.priors)

    def predict_proba(self, tokens: list[str]) -> dict[str, float]:
        if not self.priors:
            return {}
        feats = [f for f in features(tokens) if f in self.vocabulary]
        size = len(self.vocabulary) or 1
        total_prior = sum(self.priors.values())
        logs = {}
        for label in self.labels:
            # Flat-ish prior: the corpus's class sizes say little about the firm's real mix of replies.
            score = 0.2 * math.log(self.priors[label] / total_prior)
            denominator = self.totals[label] + self.alpha * size
            for feat in feats:
                score += math.log((self.counts[label][feat] + self.alpha) / denominator)
            logs[label] = score
        top = max(logs.values())
        exp = {label: math.exp(value - top) for label, value in logs.items()}
        norm = sum(exp.values())
        return {label: value / norm for label, value in exp.items()}

"""Clustering of what callers said (pure: texts in, clusters out; no I/O, no clock, no randomness).

Texts are scrubbed caller utterances. They are normalized, deduplicated (a repeated utterance
counts once per occurrence but is placed once), turned into TF-IDF vectors over words and word
pairs (scikit-learn), and grouped by DBSCAN on cosine distance: a cluster is a dense group of
utterances each within ``radius`` of several others. DBSCAN needs no number of clusters, leaves
stray utterances out (they wait for more like them), and gives the same clusters for the same
texts in any order, since the texts are sorted first.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from typing import Sequence

from policy.text import normalize

#: Words too common to say anything about what a caller wants.
STOP_WORDS = frozenset(
    "a an the to of and or is are am be been was were i me my mine you your yours it its this that these those "
    "in on at for with from by as do does did doing can could would should will shall may might must please "
    "hi hey hello so just um uh like well yes yeah ok okay oh there here we our us they them their he she him her "
    "what how why when where which who whom whose if then than about into also too very really any some".split())
_PLACEHOLDER = re.compile(r"<[a-z]+>")


@dataclass(frozen=True)
class Cluster:
    """A group of similar utterances: indexes into the input, its size and how tight it is."""

    members: tuple[int, ...]      # indexes of the input texts (repeats included), closest to the centre first
    count: int                    # occurrences (duplicates included)
    coherence: float              # mean cosine similarity of the members to the cluster's centre, 0..1


def stem(word: str) -> str:
    """The Snowball (Porter 2) stem of a word: "arrived", "arrival" and "arrive" meet at "arriv"."""
    return _stemmer().stemWord(word)


@lru_cache(maxsize=1)
def _stemmer():  # noqa: ANN202 - snowballstemmer has no types
    import snowballstemmer

    return snowballstemmer.stemmer("english")


def stems(text: str) -> list[str]:
    """The stems of a text's content words."""
    return [stem(w) for w in content_words(text)]


def tokens(text: str) -> list[str]:
    """The normalized words of a scrubbed text, placeholders dropped."""
    norm = normalize(_PLACEHOLDER.sub(" ", text))
    return norm.split() if norm else []


def content_words(text: str) -> list[str]:
    """The words of a text that carry meaning (no stop words, no placeholders)."""
    return [w for w in tokens(text) if w not in STOP_WORDS]


def ngrams(words: Sequence[str], n_max: int = 3) -> set[str]:
    """Every phrase of 1..n_max consecutive words (on the full word list, so phrases read naturally)."""
    out: set[str] = set()
    for n in range(1, n_max + 1):
        for i in range(len(words) - n + 1):
            gram = words[i:i + n]
            if gram[0] in STOP_WORDS or gram[-1] in STOP_WORDS:
                continue
            out.add(" ".join(gram))
    return out


def vectorize(texts: Sequence[str]):  # -> scipy.sparse matrix (rows L2-normalized)
    """TF-IDF vectors (words and word pairs, stop words out) for normalized texts."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    vec = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, token_pattern=r"(?u)\b\w+\b",
                          stop_words=sorted(STOP_WORDS), lowercase=False)
    try:
        return vec.fit_transform(texts)
    except ValueError:  # nothing but stop words
        from scipy.sparse import csr_matrix

        return csr_matrix((len(texts), 1))


def cluster(texts: Sequence[str], *, radius: float = 0.3, min_size: int = 3) -> list[Cluster]:
    """Group texts into clusters (largest first); texts in no cluster are left out."""
    import numpy as np
    from sklearn.cluster import DBSCAN

    norm = [" ".join(stems(t)) for t in texts]
    counts = Counter(norm)
    unique = sorted(u for u in counts if u)
    if not unique:
        return []
    X = vectorize(unique)
    nonzero = np.asarray(X.getnnz(axis=1) > 0)
    weights = np.array([counts[u] for u in unique], dtype=float)
    labels = np.full(len(unique), -1)
    if nonzero.sum() >= 1:
        rows = np.flatnonzero(nonzero)
        labels[rows] = DBSCAN(eps=radius, min_samples=min_size, metric="cosine").fit_predict(
            X[rows], sample_weight=weights[rows])
    where: dict[str, list[int]] = {}
    for i, u in enumerate(norm):
        where.setdefault(u, []).append(i)
    out = []
    for label in sorted(set(labels.tolist()) - {-1}):
        rows = np.flatnonzero(labels == label)
        out.append(_make(X, rows, [unique[r] for r in rows], weights[rows], where))
    return sorted(out, key=lambda c: (-c.count, c.members))


def coherence(texts: Sequence[str]) -> float:
    """How tight a group of texts is, as a cluster's coherence (mean cosine to the group's centre, 0..1)."""
    import numpy as np

    norm = [" ".join(stems(t)) for t in texts]
    counts = Counter(norm)
    unique = sorted(u for u in counts if u)
    if not unique:
        return 0.0
    return _make(vectorize(unique), np.arange(len(unique)), unique,
                 np.array([counts[u] for u in unique], dtype=float), {}).coherence


def _make(X, rows, texts: list[str], weights, where: dict[str, list[int]]) -> Cluster:
    import numpy as np

    sub = X[rows]
    centre = np.asarray(sub.multiply(weights[:, None]).sum(axis=0)).ravel()
    norm = np.linalg.norm(centre)
    sims = (sub @ (centre / norm if norm else centre)) if norm else np.zeros(len(rows))
    sims = np.asarray(sims).ravel()
    order = sorted(range(len(rows)), key=lambda i: (-sims[i], texts[i]))
    coherence = float(np.average(sims, weights=weights)) if len(rows) else 0.0
    members = tuple(m for i in order for m in where.get(texts[i], ()))
    return Cluster(members, int(weights.sum()), round(coherence, 3))


__all__ = ["Cluster", "cluster", "coherence", "stem", "stems", "tokens", "content_words", "ngrams", "vectorize", "STOP_WORDS"]

"""Output guardrails: every text the caller hears is checked sentence by sentence.

A sentence that breaks a guardrail is replaced by one natural spoken line for that
guardrail (said once per reply), never by "[brackets]". Approved prices and phone numbers
from the company's variables, and whitelisted URL domains, pass. These patterns are ours
(fixed, reviewed for backtracking), so stdlib ``re`` is used.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from typing import Any, Mapping

from .company import CompanyProfile, money_value
from .matching import PhraseIndex
from .text import ascii_words, join_sentences, normalize, padded, sentence_spans

_NUMBER_WORDS = ("one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|"
                 "sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|"
                 "hundred|thousand")
PRICE = re.compile(
    r"\$\s?(\d[\d,]*(?:\.\d{1,2})?)"
    r"|\b(\d[\d,]*(?:\.\d{1,2})?)\s*(?:dollars?|bucks|usd)\b"
    rf"|\b((?:(?:{_NUMBER_WORDS})[\s-]+)+)(?:dollars?|bucks)\b", re.I)
PHONE = re.compile(
    r"(?<![\w$])(?:\+?1[\s.-]?)?\(?\d{3}\)?[\s.-]?\d{3}[\s.-]?\d{4}(?!\d)"
    r"|(?<![\w$])\+\d{1,3}(?:[\s.-]?\d{2,4}){2,5}(?!\d)"
    r"|(?<![\w$.])\d{3}[\s.-]\d{4}(?!\d|\.\d)")
_TLDS = "com|net|org|io|co|us|biz|info|app|dev|ai|ca|uk|me|ly"
URL = re.compile(
    r"(?<![@\w.])(?:https?://[^\s]+|www\.[^\s]+"
    rf"|(?:[a-z0-9](?:[a-z0-9-]{{0,61}}[a-z0-9])?\.)+(?:{_TLDS})"
    r"(?::\d+)?(?:/[^\s]*)?)", re.I)
#: A price with a dollar sign, the only kind a reply without a money word can hold (a quick first scan).
DOLLAR_PRICE = re.compile(r"\$\s?(\d[\d,]*(?:\.\d{1,2})?)")
APOLOGY = re.compile(r"\b(?:sorry|apologi[sz]e|apologies)\b", re.I)
#: What a price, a phone number and a web address cannot do without (the fast path's tests).
_MONEY_WORDS = ("$", "dollar", "buck", "usd")
_DOT_LETTER = re.compile(r"\.[a-z]")
_DIGIT = re.compile(r"\d")
_PHONE_RUN = re.compile(r"[\d(+][\d\s().+-]*")


def _digits(text: str) -> int:
    """How many digits a text holds."""
    if text.isascii():
        raw = text.encode()
        return len(raw) - len(raw.translate(None, b"0123456789"))
    return len(_DIGIT.findall(text))


def _approved_phone(digits: str, approved: frozenset[str]) -> bool:
    """Whether a number's digits are one of the company's own (a seven-digit one: the local part of one)."""
    return digits[-10:] in approved or (len(digits) == 7 and any(p.endswith(digits) for p in approved))


def _may_be_url(low: str) -> bool:
    """Whether a lowercased text could hold a web address (a dot before a letter, "www" or "http")."""
    return "www" in low or "http" in low or _DOT_LETTER.search(low) is not None
#: What a web address of URL's third form cannot do without: a dot before its top-level domain.
_DOT_DOMAIN = re.compile(rf"\.(?:{_TLDS})", re.I)


def _may_hold_url(text: str) -> bool:
    """Whether URL can match anywhere in a text ("8 a.m." cannot: the full scan is slow, this one is not)."""
    low = text.lower()
    return "http" in low or "www" in low or _DOT_DOMAIN.search(text) is not None


LEADING_APOLOGY = re.compile(
    r"^(?:(?:i'?m|i am|we'?re|we are)\s+)?(?:so\s+|very\s+|really\s+|truly\s+)?"
    r"(?:sorry|apologi[sz]e|(?:my\s+)?apologies)(?:\s+(?:about|for)\s+[^,]*)?,?\s*(?:but\s+)?", re.I)

REPLACEMENTS = {
    "NO_PRICES": "One of our team members can give you exact pricing.",
    "NO_PHONE_NUMBERS": "Our team can make sure you have the right number to reach us.",
    "NO_URLS": "Our team can send you the right link.",
    "NO_DIAGNOSES": "A technician will need to take a look to know for sure what's going on.",
    "NO_MEDICAL_ADVICE": ("I'm not able to give medical advice. If anyone feels unwell, please contact a "
                          "medical professional or emergency services."),
    "NO_LEGAL_ADVICE": "I'm not able to give legal advice, but I can have someone from our team follow up with you.",
}
_ORDER = ("NO_PRICES", "NO_PHONE_NUMBERS", "NO_URLS", "NO_DIAGNOSES", "NO_MEDICAL_ADVICE", "NO_LEGAL_ADVICE")
_RANK = {g: i for i, g in enumerate(_ORDER)}
_TERMS = "terms"  # a suspect: some guardrail term may be said
_PRICE_WORDS = "price words"  # a suspect beside NO_PRICES: a money word is said, not only "$"


def _host(url: str) -> str:
    host = re.sub(r"^https?://", "", url, flags=re.I).split("/")[0].split(":")[0].lower()
    return host.rstrip(".,;!?)").removeprefix("www.")


class Guardrails:
    """The guardrails a policy turns on, with their term lists indexed once."""

    __slots__ = ("flags", "terms", "term_owner", "_term_words", "_term_bytes")

    def __init__(self, content: Mapping[str, Any]) -> None:
        self.flags = frozenset(content["guardrails"])
        owner: list[str] = []
        index = PhraseIndex(())
        for g in ("NO_DIAGNOSES", "NO_MEDICAL_ADVICE", "NO_LEGAL_ADVICE"):
            if g in self.flags:
                for term in content["guardrailTerms"].get(g, ()):
                    pid = index.add(term)
                    if pid == len(owner):
                        owner.append(g)
        index.finish()
        self.terms = index if owner else None
        self.term_owner = tuple(owner)
        # The fast path: the words of each term, reached from its rarest word (a match has them all).
        term_words = [frozenset(index.phrases[pid].split()) for pid in range(len(owner))]
        seen: dict[str, int] = {}
        for words in term_words:
            for w in words:
                seen[w] = seen.get(w, 0) + 1
        by_word: dict[str, list[frozenset[str]]] = {}
        for words in term_words:
            if words:
                by_word.setdefault(min(words, key=lambda w: (seen[w], -len(w), w)), []).append(words)
        self._term_words = by_word
        # The same for ASCII replies (nearly all), whose words are read from a byte table.
        self._term_bytes = {w.encode(): [frozenset(t.encode() for t in term) for term in terms]
                            for w, terms in by_word.items()}

    def _may_leak_term(self, text: str) -> bool:
        """Whether a text holds every word of some guardrail term (else no term can match it)."""
        if text.isascii():  # the words of ``normalize``, without making the normalized text
            listed = ascii_words(text)
            by_word = self._term_bytes
            if by_word.keys().isdisjoint(listed):
                return False
            words = set(listed)
        else:
            words = set(normalize(text).split())
            by_word = self._term_words
        return any(term <= words for w in words.intersection(by_word) for term in by_word[w])

    def _suspects(self, text: str) -> set[str]:
        """The kinds of leak a whole reply could hold, from what each cannot do without: a price a currency
        word, a phone number seven digits, a web address a dot before a letter, a term all its words, an
        apology too many a second one (a few quick scans; most replies hold none and are done here)."""
        flags, low = self.flags, text.lower()
        found = set()
        if "NO_PRICES" in flags:
            if "dollar" in low or "buck" in low or "usd" in low:  # _MONEY_WORDS: all the forms of PRICE may match
                found.update(("NO_PRICES", _PRICE_WORDS))
            elif "$" in low:
                found.add("NO_PRICES")
        if "NO_PHONE_NUMBERS" in flags and _digits(text) >= 7:
            found.add("NO_PHONE_NUMBERS")
        if "NO_URLS" in flags and _may_be_url(low):
            found.add("NO_URLS")
        if self._term_words and self._may_leak_term(text):
            found.add(_TERMS)
        if ("NO_APOLOGIES_SPAM" in flags and ("sorr" in low or "apolog" in low)
                and len(APOLOGY.findall(text)) > 1):
            found.add("NO_APOLOGIES_SPAM")
        return found

    def _marks(self, text: str, company: CompanyProfile, suspects: set[str]) -> list[tuple[int, str]]:
        """Where each price, phone number and web address that is not approved starts: one scan of the
        whole reply per kind a reply could hold."""
        marks: list[tuple[int, str]] = []
        if "NO_PRICES" in suspects:
            # Without a money word only the dollar-sign form can match: its own quick scan finds the same prices.
            prices = PRICE if _PRICE_WORDS in suspects else DOLLAR_PRICE
            for m in prices.finditer(text):
                amount = m.group(1) or m.group(2)
                if amount is None or money_value(amount) not in company.approved_prices:
                    marks.append((m.start(), "NO_PRICES"))
        if "NO_PHONE_NUMBERS" in suspects:
            # A number is made of digits, spaces, dots, dashes, brackets and a plus: only a run of those
            # with seven digits can hold one (the scan sees the characters on either side of the run).
            for run in _PHONE_RUN.finditer(text):
                if _digits(run.group(0)) < 7:
                    continue
                for m in PHONE.finditer(text, run.start(), run.end() + 1):
                    digits = re.sub(r"\D", "", m.group(0))
                    if len(digits) >= 7 and not _approved_phone(digits, company.approved_phones):
                        marks.append((m.start(), "NO_PHONE_NUMBERS"))
        if "NO_URLS" in suspects and _may_hold_url(text):
            for m in URL.finditer(text):
                host = _host(m.group(0))
                if not any(host == d or host.endswith("." + d) for d in company.url_whitelist):
                    marks.append((m.start(), "NO_URLS"))
        return marks

    def _sentences(self, text: str, company: CompanyProfile) -> list[tuple[str, list[str], bool]] | None:
        """A reply (no space at either end) as sentences, each with the guardrails it breaks (in the order of
        their replacement lines) and whether it apologizes; None when the reply breaks none (no sentence
        then needs a look). A leak never spans two sentences, so each match is placed in its sentence."""
        suspects = self._suspects(text)
        if _TERMS in suspects and text.isascii() and not self.terms.search(padded(text)):
            # No term in the whole reply, so none in a sentence of it (its words are a run of the reply's).
            suspects.discard(_TERMS)
        if not suspects:
            return None
        marks = self._marks(text, company, suspects)
        if not marks and suspects.isdisjoint((_TERMS, "NO_APOLOGIES_SPAM")):
            return None
        spans = sentence_spans(text)
        starts = [a for a, _ in spans]
        broken: list[list[str]] = [[] for _ in spans]
        for offset, guardrail in marks:
            found = broken[bisect_right(starts, offset) - 1]
            if guardrail not in found:
                found.append(guardrail)
        sentences = [text[a:b] for a, b in spans]
        if _TERMS in suspects:
            for found, sentence in zip(broken, sentences):
                for pid in sorted(self.terms.search(padded(sentence))):
                    if self.term_owner[pid] not in found:
                        found.append(self.term_owner[pid])
        for found in broken:
            found.sort(key=_RANK.__getitem__)
        apologizing = [False] * len(spans)
        if "NO_APOLOGIES_SPAM" in suspects:
            for m in APOLOGY.finditer(text):
                apologizing[bisect_right(starts, m.start()) - 1] = True
        return list(zip(sentences, broken, apologizing))

    def leaks(self, text: str, company: CompanyProfile) -> tuple[str, ...]:
        """The guardrails a text breaks as it stands, nothing replaced (a guardrail leak: what ``enforce``
        would have caught); more than one apology is a leak of NO_APOLOGIES_SPAM."""
        checked = self._sentences(text.strip(), company) if self.flags and text else None
        if checked is None:
            return ()
        found: list[str] = []
        for _, broken, _ in checked:
            found.extend(g for g in broken if g not in found)
        if sum(apology for _, _, apology in checked) > 1:
            found.append("NO_APOLOGIES_SPAM")
        return tuple(found)

    def enforce(self, text: str, company: CompanyProfile) -> tuple[str, tuple[str, ...]]:
        """Return the text with offending sentences replaced, and the guardrails that fired."""
        checked = self._sentences(text.strip(), company) if self.flags and text else None
        if checked is None:
            return text, ()
        fired: list[str] = []
        out: list[str] = []
        apologized = False
        for sentence, broken, apology in checked:
            if broken:
                for g in broken:
                    if g not in fired:
                        fired.append(g)
                line = REPLACEMENTS.get(broken[0])
                if broken[0] == "NO_PHONE_NUMBERS" and company.variables.get("phone"):
                    line = f"You can reach our office at {company.variables['phone']}."
                if line and line not in out:
                    out.append(line)
                continue
            if apology:
                if apologized:
                    rest = LEADING_APOLOGY.sub("", sentence, count=1).strip()
                    if "NO_APOLOGIES_SPAM" not in fired:
                        fired.append("NO_APOLOGIES_SPAM")
                    if rest and not APOLOGY.search(rest) and len(rest.split()) > 1:
                        out.append(rest[0].upper() + rest[1:])
                    continue
                apologized = True
            out.append(sentence)
        if not fired:
            return text, ()
        return join_sentences(out), tuple(fired)


_TERM_GUARDRAILS = ("NO_DIAGNOSES", "NO_MEDICAL_ADVICE", "NO_LEGAL_ADVICE")


def combined(*contents: Mapping[str, Any]) -> Guardrails:
    """One checker for the guardrails of several policies together (compiled contents): a text leaks
    when it breaks a guardrail any of them has."""
    flags = sorted({g for c in contents for g in c["guardrails"]})
    terms = {g: sorted({t for c in contents for t in c["guardrailTerms"].get(g, ())}) for g in _TERM_GUARDRAILS}
    return Guardrails({"guardrails": flags, "guardrailTerms": terms})


def covers(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """Whether policy ``a``'s guardrails catch everything ``b``'s do (then ``a`` cannot leak against ``b``)."""
    if not set(b["guardrails"]) <= set(a["guardrails"]):
        return False
    return all(set(b["guardrailTerms"].get(g, ())) <= set(a["guardrailTerms"].get(g, ()))
               for g in _TERM_GUARDRAILS if g in b["guardrails"])


__all__ = ["Guardrails", "REPLACEMENTS", "PRICE", "PHONE", "URL", "combined", "covers"]

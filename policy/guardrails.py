"""Output guardrails: every text the caller hears is checked sentence by sentence.

A sentence that breaks a guardrail is replaced by one natural spoken line for that
guardrail (said once per reply), never by "[brackets]". Approved prices and phone numbers
from the company's variables, and whitelisted URL domains, pass. These patterns are ours
(fixed, reviewed for backtracking), so stdlib ``re`` is used.
"""

from __future__ import annotations

import re
from typing import Any, Mapping

from .company import CompanyProfile, money_value
from .matching import PhraseIndex
from .text import join_sentences, normalize, padded, split_sentences

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
    r"|(?<![\w$.])\d{3}[\s.-]\d{4}(?![\d.])")
URL = re.compile(
    r"(?<![@\w.])(?:https?://[^\s]+|www\.[^\s]+"
    r"|(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+(?:com|net|org|io|co|us|biz|info|app|dev|ai|ca|uk|me|ly)"
    r"(?::\d+)?(?:/[^\s]*)?)", re.I)
APOLOGY = re.compile(r"\b(?:sorry|apologi[sz]e|apologies)\b", re.I)
#: What a price, a phone number and a web address cannot do without (the fast path's tests).
_MONEY_WORDS = ("$", "dollar", "buck", "usd")
_DOT_LETTER = re.compile(r"\.[a-z]|www|http", re.I)
_DIGIT = re.compile(r"\d")
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


def _host(url: str) -> str:
    host = re.sub(r"^https?://", "", url, flags=re.I).split("/")[0].split(":")[0].lower()
    return host.rstrip(".,;!?)").removeprefix("www.")


class Guardrails:
    """The guardrails a policy turns on, with their term lists indexed once."""

    __slots__ = ("flags", "terms", "term_owner", "_term_words")

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
        # The fast path: the words of each term, reachable from each of its words (a match has them all).
        by_word: dict[str, list[frozenset[str]]] = {}
        for pid in range(len(owner)):
            words = frozenset(index.phrases[pid].split())
            for w in words:
                by_word.setdefault(w, []).append(words)
        self._term_words = by_word

    def _clean(self, text: str, *, apologies: bool = True) -> bool:
        """Whether a whole reply surely breaks no guardrail, from what each kind of leak cannot do without:
        a price a currency word, a phone number seven digits, a web address a dot before a letter, a
        term all its words; and at most one apology (a few scans; most replies end here)."""
        flags, low = self.flags, text.lower()
        if "NO_PRICES" in flags and any(w in low for w in _MONEY_WORDS):
            return False
        if "NO_PHONE_NUMBERS" in flags and len(_DIGIT.findall(text)) >= 7:
            return False
        if "NO_URLS" in flags and _DOT_LETTER.search(text):
            return False
        if self._term_words:
            words = set(normalize(text).split())
            if any(term <= words for w in words & self._term_words.keys() for term in self._term_words[w]):
                return False
        return not (apologies and "NO_APOLOGIES_SPAM" in flags and len(APOLOGY.findall(text)) > 1)

    def _violations(self, sentence: str, company: CompanyProfile) -> list[str]:
        if self._clean(sentence, apologies=False):
            return []
        found = []
        flags = self.flags
        if "NO_PRICES" in flags and ("$" in sentence or PRICE.search(sentence)):
            for m in PRICE.finditer(sentence):
                amount = m.group(1) or m.group(2)
                if amount is None or money_value(amount) not in company.approved_prices:
                    found.append("NO_PRICES")
                    break
        if "NO_PHONE_NUMBERS" in flags:
            for m in PHONE.finditer(sentence):
                if re.sub(r"\D", "", m.group(0))[-10:] not in company.approved_phones:
                    found.append("NO_PHONE_NUMBERS")
                    break
        if "NO_URLS" in flags:
            for m in URL.finditer(sentence):
                host = _host(m.group(0))
                if not any(host == d or host.endswith("." + d) for d in company.url_whitelist):
                    found.append("NO_URLS")
                    break
        if self.terms is not None:
            for pid in sorted(self.terms.search(padded(sentence))):
                g = self.term_owner[pid]
                if g not in found:
                    found.append(g)
        return found

    def leaks(self, text: str, company: CompanyProfile) -> tuple[str, ...]:
        """The guardrails a text breaks as it stands, nothing replaced (a guardrail leak: what ``enforce``
        would have caught); more than one apology is a leak of NO_APOLOGIES_SPAM."""
        if not self.flags or not text or self._clean(text):
            return ()
        found: list[str] = []
        apologies = 0
        for sentence in split_sentences(text):
            found.extend(g for g in self._violations(sentence, company) if g not in found)
            if "NO_APOLOGIES_SPAM" in self.flags and APOLOGY.search(sentence):
                apologies += 1
        if apologies > 1:
            found.append("NO_APOLOGIES_SPAM")
        return tuple(found)

    def enforce(self, text: str, company: CompanyProfile) -> tuple[str, tuple[str, ...]]:
        """Return the text with offending sentences replaced, and the guardrails that fired."""
        if not self.flags or not text or self._clean(text):
            return text, ()
        fired: list[str] = []
        out: list[str] = []
        apologized = False
        for sentence in split_sentences(text):
            broken = self._violations(sentence, company)
            if broken:
                for g in broken:
                    if g not in fired:
                        fired.append(g)
                first = next((g for g in _ORDER if g in broken), None)
                line = REPLACEMENTS.get(first) if first else None
                if first == "NO_PHONE_NUMBERS" and company.variables.get("phone"):
                    line = f"You can reach our office at {company.variables['phone']}."
                if line and line not in out:
                    out.append(line)
                continue
            if "NO_APOLOGIES_SPAM" in self.flags and APOLOGY.search(sentence):
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

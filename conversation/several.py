"""Two questions in one breath ("what are your hours, and do you serve Oakland?"), pure.

``questions_in`` finds the two questions; ``joined`` says both answers as one reply: the first
without the question it may end on, the second after an "and" ("... We're closed on Sunday. And we
serve the greater Austin area."), so the caller hears each answer once and one question at most.
"""

from __future__ import annotations

import re

from policy.text import lower_first, split_sentences

from . import acts

#: Where one question ends and the next begins: a question mark, or "and" / "also" / "plus" between them.
_BETWEEN = re.compile(r"\?+\s*|[,;.]?\s+(?:and also|and|also|plus|oh and)\s+|[,;.]\s+(?=(?:what|when|where|how|do|does|"
                      r"are|is|can|could|will|would)\b)", re.I)
_GREETING = re.compile(r"(?:(?:hi|hello|hey|yes|yeah|um+|uh+|oh|ok(?:ay)?|so|well|good (?:morning|afternoon|evening)|"
                       r"there)\W*)+", re.I)
#: The second question is about the first one's thing ("do you do maintenance plans and how much are they"): one question.
_BACK = re.compile(r"\b(?:it|they|them|that|those|these|this|one|ones)\b", re.I)
#: An answer that cannot follow "And" ("Sure, ...", "I'm sorry ..."); any other can ("And we serve ...",
#: "And yes, we install ...", "And on Saturdays, ...").
_NO_AND = re.compile(r"^(?:ok(?:ay)?|sure|of course|great|absolutely|hi|hello|thanks?|thank you|no problem|sorry|"
                     r"i'?m sorry|and|but|so)\b", re.I)


#: Asking about something without a question's words ("I also wanted to ask about your maintenance plan").
_ASKING = re.compile(r"^\W*(?:(?:um+|uh+|oh|so|and)\W+)*(?:i\s+)?(?:also\s+)?(?:wanted|want|wanna|would like|'?d like|"
                     r"was going|was hoping|need)\s+to\s+(?:ask|know|find out|hear)\s+(?:about\s+)?|"
                     r"^\W*(?:i'?m\s+|i\s+was\s+)?(?:also\s+)?wondering\s+(?:about\s+)?|"
                     r"^\W*(?:i\s+)?(?:also\s+)?(?:have|had|got)\s+a\s+(?:quick\s+)?question\s+about\s+", re.I)


def _asks(part: str) -> bool:
    return acts.is_question(part) or bool(_ASKING.match(part))


def questions_in(text: str) -> list[str]:
    """The two questions of "what are your hours and do you serve Oakland" (each a whole question), else [];
    the first may be what the caller tells us when the second asks about something else ("my heat pump is
    grinding, and I also wanted to ask about your maintenance plan")."""
    parts: list[str] = []
    for part in (p.strip(" ,.;!") for p in _BETWEEN.split(text)):
        if not part or (not parts and _GREETING.fullmatch(part)):
            continue  # "hi, what time do you close ...": the greeting is no question
        if parts and not (_asks(part) and len(part.split()) >= 2):
            parts[-1] = f"{parts[-1]} and {part}"  # "... do you serve Oakland and Berkeley": one question
        else:
            parts.append(part)
    if len(parts) != 2 or _BACK.search(parts[1]) or not _asks(parts[1]):
        return []
    if not acts.is_question(parts[0]) and not (_ASKING.match(parts[1]) and len(parts[0].split()) >= 3):
        return []
    return parts


def _without_question(text: str) -> str:
    """An answer without the question it ends on ("Is there something I can help you with today?")."""
    sentences = split_sentences(text)
    while len(sentences) > 1 and sentences[-1].endswith("?"):
        sentences.pop()
    return " ".join(sentences)


def joined(first: str, second: str) -> str:
    """Both answers as one reply: the first without its closing question, the second after an "and"."""
    second = second.strip()
    if not _NO_AND.match(second):
        second = f"And {lower_first(second)}"
    return f"{_without_question(first.strip())} {second}"


__all__ = ["questions_in", "joined"]

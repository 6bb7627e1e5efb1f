"""The deterministic engine: edge cases -> transfer rules -> guardrails -> behavior rules.

Pure: no I/O and no clock (the turn's time comes in the context; only the elapsed-time
measurement uses a timer, which is injectable). Side effects are described in the
decision and performed by the caller.
"""

from __future__ import annotations

from time import perf_counter
from types import MappingProxyType
from typing import Any, Callable, Iterator, Mapping

from .canon import canon
from .compiler import CompiledPolicy
from .decision import BaseResponse, Decision, TurnContext
from .matching import denied
from .runtime import EdgeRule, Runtime, TransferRuleRT, block
from .text import clean_utterance, padded

#: A turn whose engine time exceeds this is flagged (PERF_FAULT); the guide's hard budget.
BUDGET_MS = 10.0

BLOCKED_TRANSFER_LINE = ("I'm not able to connect you for that directly, but I can take a message "
                         "and have the right person call you back.")
BLOCKED_ACTION_LINE = ("I can't take care of that for you directly, but I can take a message and have "
                       "someone from our team call you back.")

_RESPOND, _TRANSFER, _HANGUP = "RESPOND", "TRANSFER", "HANGUP"


def _conditions_hold(rule: EdgeRule, ctx: TurnContext) -> bool:
    """Whether an edge case's spam flags, trade and time windows hold on this turn."""
    if rule.spam_required and not rule.spam_required <= ctx.spam_flags:
        return False
    if rule.trades and ctx.company.trade not in rule.trades:
        return False
    if rule.windows:
        for w in rule.windows:
            if w.contains(ctx.local_day, ctx.local_minute):
                return True
        return False
    return True


def _edge_match(rule: EdgeRule, rt: Runtime, hits: set[int], candidates: set[int], text: str,
                ctx: TurnContext) -> str | None:
    """The pattern that matched if every condition of the edge case holds, else None (the conditions
    are named only when no phrase or pattern matched)."""
    matched = None
    if rule.any_ids:
        for pid in rule.any_ids:
            if pid in hits:
                matched = rt.phrases.phrases[pid]
                break
        else:
            return None
    if rule.all_ids:
        if not rule.all_ids <= hits:
            return None
        matched = matched or " + ".join(sorted(rt.phrases.phrases[p] for p in rule.all_ids))
    if rule.regex_ids:
        for rid in rule.regex_ids:
            if rid in candidates and rt.patterns.search(rid, text):
                matched = matched or rt.patterns.sources[rid]
                break
        else:
            return None
    if (rule.caller_types and ctx.caller_type not in rule.caller_types) or not _conditions_hold(rule, ctx):
        return None
    if matched:
        return matched
    conditions = []
    if rule.caller_types:
        conditions.append(f"callerType={ctx.caller_type}")
    if rule.spam_required:
        conditions.append("spamFlags=" + ",".join(sorted(rule.spam_required)))
    if rule.trades:
        conditions.append(f"trade={ctx.company.trade}")
    if rule.windows:
        conditions.append("timeWindow")
    return " & ".join(conditions)


class _Turn:
    """Mutable scratch for one apply() call; frozen into a Decision at the end."""

    __slots__ = ("action", "text", "short", "blocks", "tags", "effects", "target", "phone", "queue", "sip",
                 "entities", "pattern", "proposed")

    def __init__(self, text: str) -> None:
        self.action = _RESPOND
        self.text = text
        self.short = False
        self.blocks: list[Mapping[str, str]] = []
        self.tags: list[str] = []
        self.effects: list[Mapping[str, Any]] = []
        self.target = self.phone = self.queue = self.sip = None
        self.entities: tuple[Mapping[str, Any], ...] = ()
        self.pattern: str | None = None
        self.proposed: str | None = None

    def copy(self) -> "_Turn":
        """An independent copy (a routing can be finished more than once)."""
        other = _Turn(self.text)
        other.action, other.short, other.pattern, other.proposed = self.action, self.short, self.pattern, self.proposed
        other.blocks, other.tags, other.effects = list(self.blocks), list(self.tags), list(self.effects)
        other.target, other.phone, other.queue, other.sip = self.target, self.phone, self.queue, self.sip
        other.entities = self.entities
        return other

    def security(self, action: str, source: Mapping[str, str], line: str) -> None:
        self.blocks.append(block("ACTION_BLOCKED", action, f"{action} is not allowed"))
        self.effects.append(MappingProxyType({"type": "SECURITY_EVENT", "reason": "UNAUTHORIZED_ACTION",
                                              "action": action, "source": source}))
        self.action, self.text = _RESPOND, line

    def connect(self, rule: TransferRuleRT | None, ctx: TurnContext, target: str | None = None) -> None:
        """Resolve where the call goes: a transfer rule's contact, a named contact or a phone number."""
        self.action = _TRANSFER
        name = rule.contact if rule else (target or "")
        contact = ctx.company.contacts.get(name) or {}
        self.target = name
        self.phone = (rule.phone if rule else None) or contact.get("phone")
        self.sip = contact.get("sip") if not self.phone else None
        self.queue = contact.get("queue") if not (self.phone or self.sip) else None
        if rule is None and not contact:
            digits = "".join(ch for ch in name if ch.isdigit())
            if len(digits) >= 7:
                self.phone = name
            elif name:
                self.queue = name
        elif rule is not None and not (self.phone or self.sip or self.queue):
            self.queue = name  # contactNameOrQueue names a Twilio queue
        if rule is not None:
            self.entities = rule.entities


def _edge_cases(rt: Runtime, turn: _Turn, hits: set[int], text: str, ctx: TurnContext) -> bool:
    """Step 1. Returns True when an edge case short-circuits the turn."""
    positions: set[int] = set()
    for pid in hits:
        p = rt.edge_by_phrase.get(pid)
        if p:
            positions.update(p)
    candidates: set[int] = set()
    if rt.patterns.sources:
        candidates = rt.patterns.candidates(text.lower())
        for rid in candidates:
            p = rt.edge_by_regex.get(rid)
            if p:
                positions.update(p)
    for rule, group in rt.edge_always[ctx.caller_type]:  # (the caller type is already known to fit)
        if _conditions_hold(rule, ctx):
            positions.update(group)
    if not positions:
        return False
    for pos in sorted(positions):
        rule = rt.edges[pos]
        matched = _edge_match(rule, rt, hits, candidates, text, ctx)
        if matched is None:
            continue
        turn.effects.extend(rule.side_effects)
        tags = turn.tags
        for t in rule.tags:
            if t not in tags:
                tags.append(t)
        turn.pattern = turn.pattern or matched
        if rule.action == "flag_only":
            turn.blocks.append(rule.flag_block)
            continue
        if rule.action == "polite_hangup" and _in_danger(rt, hits, text):
            # A caller in danger is never hung up on, however they talk: the emergency rule decides.
            turn.blocks.append(rule.withheld_block)
            continue
        turn.blocks.append(rule.block)
        turn.short = True
        turn.pattern = matched
        source = {"type": "EDGE_CASE", "id": rule.id, "name": rule.name}
        if rule.action == "override_response":
            turn.text = rule.text or ""
        elif rule.action == "polite_hangup":
            turn.action, turn.text = _HANGUP, rule.text or "Thank you for calling. Goodbye."
        else:  # force_transfer
            target = rule.transfer or ""
            tr = rt.transfer_by_id.get(target) or rt.transfer_by_intent.get(target)
            needed = tr.action if tr else "TRANSFER_GENERAL"
            if needed not in rt.allowed:
                turn.security(needed, MappingProxyType(source), BLOCKED_TRANSFER_LINE)
            else:
                turn.text = rule.text or (tr.script if tr else "Let me connect you with someone who can help.")
                turn.connect(tr, ctx, target)
        return True
    return False


def _transfer_candidates(rt: Runtime, hits: set[int], text: str) -> Iterator[tuple[int, int, TransferRuleRT]]:
    """The rules the words can open, best first: emergencies, then a rule's own keywords, then an
    intent's built-in words (each by priority). An "unless" phrase of the intent ("how much") stops
    a match, except on one of the rule's own keywords said exactly as written. Lazy: the caller
    usually takes the first."""
    positions: set[int] = set()
    own: set[int] = set()
    for pid in hits:
        p = rt.transfer_by_phrase.get(pid)
        if p:
            positions.update(p)
            o = rt.transfer_by_own.get(pid)
            if o:
                own.update(o)
    groups: dict[int, set[int]] = {}
    for pid in hits:
        for cid, gi in rt.transfer_combos.get(pid, ()):
            groups.setdefault(cid, set()).add(gi)
    for cid, found in groups.items():
        if len(found) == rt.combo_size[cid]:
            positions.update(rt.combo_rules[cid])
    if not positions:
        return
    stopped: set[int] = set()  # the rules an "unless" phrase that was said stops
    for pid in hits:
        p = rt.transfer_by_unless.get(pid)
        if p:
            stopped.update(p)
    stopped &= positions
    if stopped:
        if rt.transfer_exact is not None:  # unless one of their own keywords was said exactly as written
            for _, found in rt.transfer_exact.iter(padded(text)):
                stopped.difference_update(found)
        positions -= stopped
    emergency = positions & rt.transfer_emergency
    own = (own & positions) - emergency
    for rank, group in ((0, emergency), (1, own), (2, positions - emergency - own)):
        for pos in sorted(group):
            yield rank, pos, rt.transfers[pos]


def _in_danger(rt: Runtime, hits: set[int], text: str) -> bool:
    """Whether the words open an emergency transfer rule (one the allowlist lets through)."""
    for rank, _, rule in _transfer_candidates(rt, hits, text):
        if rank:
            return False
        if rule.action in rt.allowed:
            return True
    return False


def _transfer_rules(rt: Runtime, turn: _Turn, hits: set[int], ctx: TurnContext, text: str) -> bool:
    """Step 2. Returns True when a transfer rule decided the turn (transfer, or blocked)."""
    for _, _, rule in _transfer_candidates(rt, hits, text):
        if rule.after_hours_only and ctx.is_open():
            continue
        said = next((rt.phrases.phrases[p] for p in rule.phrase_ids if p in hits), None)
        turn.pattern = turn.pattern or said or "combination"
        if rule.action not in rt.allowed:
            turn.security(rule.action, MappingProxyType({"type": "TRANSFER_RULE", "id": rule.id, "name": rule.name}),
                          BLOCKED_TRANSFER_LINE)
            return True
        turn.blocks.append(rule.block)
        turn.text = rule.script
        turn.connect(rule, ctx)
        return True
    return False


def _base_action(rt: Runtime, turn: _Turn, base: BaseResponse, ctx: TurnContext) -> None:
    """A scenario's (or Tier 3's) proposed action goes through the allowlist like any other."""
    action = base.action
    if not action:
        return
    turn.proposed = action
    source = MappingProxyType({"type": "BASE_RESPONSE", "id": base.source, "name": action})
    if action not in rt.allowed:
        line = BLOCKED_TRANSFER_LINE if action.startswith("TRANSFER_") else BLOCKED_ACTION_LINE
        turn.security(action, source, line)
        return
    if action.startswith("TRANSFER_"):
        intent = action[len("TRANSFER_"):].lower()
        rule = next((r for r in rt.transfers if r.intent == intent and not (r.after_hours_only and ctx.is_open())), None)
        if rule is not None:
            turn.blocks.append(rule.block)
            turn.text = turn.text or rule.script
            turn.connect(rule, ctx)


class Routing:
    """Steps 1 and 2 done: what the edge cases and transfer rules made of the caller's words.

    ``decided`` is True when they took the turn (an edge case that short-circuits, a transfer
    rule, or a transfer the allowlist blocked): the base answer is then not needed.
    """

    __slots__ = ("text", "turn", "decided", "elapsed_ms")

    def __init__(self, text: str, turn: _Turn, decided: bool, elapsed_ms: float) -> None:
        self.text = text
        self.turn = turn
        self.decided = decided
        self.elapsed_ms = elapsed_ms

    @property
    def edge_case(self) -> bool:
        """Whether an edge case short-circuited the turn."""
        return self.turn.short


def _route(policy: CompiledPolicy, utterance: str | None, context: TurnContext) -> Routing:
    rt: Runtime = policy.runtime
    text = clean_utterance(utterance)
    turn = _Turn("")
    if text:
        words = canon(text)
        hits = rt.phrases.search(words)
        joined = words.joined
        if hits and (" no " in joined or " nobodi " in joined or " none " in joined or " noon " in joined):
            hits -= denied(rt.phrases, hits, text, words)  # "no sparks or smell", "it's not an emergency"
    else:
        hits = set()
    decided = _edge_cases(rt, turn, hits, text, context) or _transfer_rules(rt, turn, hits, context, text)
    return Routing(text, turn, decided, 0.0)


def route(policy: CompiledPolicy, utterance: str | None, context: TurnContext, *,
          timer: Callable[[], float] = perf_counter) -> Routing:
    """Steps 1-2: edge cases, then transfer rules, over the caller's words (no base answer needed yet)."""
    started = timer()
    routing = _route(policy, utterance, context)
    routing.elapsed_ms = (timer() - started) * 1000.0
    return routing


def finish(policy: CompiledPolicy, routing: Routing, base_response: str | BaseResponse | None,
           context: TurnContext, *, timer: Callable[[], float] = perf_counter) -> Decision:
    """Steps 3-4 after ``route``: the base answer where the rules left the turn to it, then
    guardrails and behavior on what the caller will hear. The decision's time covers both halves."""
    started = timer()
    return _finish(policy, routing, routing.turn.copy(), base_response, context,
                   lambda: routing.elapsed_ms + (timer() - started) * 1000.0)


def _finish(policy: CompiledPolicy, routing: Routing, turn: _Turn, base_response: str | BaseResponse | None,
            context: TurnContext, elapsed_ms: Callable[[], float]) -> Decision:
    rt: Runtime = policy.runtime
    base = base_response if isinstance(base_response, BaseResponse) else BaseResponse(base_response or "")
    if not routing.decided:
        turn.text = base.text or ""
        _base_action(rt, turn, base, context)
    text = routing.text
    company = context.company
    spoken, missing, fired, polished = rt.render(turn.text, company)
    if fired:
        turn.blocks.append(block("GUARDRAILS", ",".join(fired), "Guardrails"))
    spoken, changed = rt.behavior.apply(spoken, company=company, is_first_turn=context.is_first_turn,
                                        caller_spoke=bool(text.strip()), collected=context.collected_entities,
                                        utterance=text, variation=context.variation, action=turn.action)
    if changed or polished:
        turn.blocks.append(rt.behavior_block)
    if not spoken.strip():
        spoken = "How can I help you?" if turn.action == _RESPOND else ("Goodbye." if turn.action == _HANGUP else
                                                                        "Please hold while I connect you.")
    elapsed = elapsed_ms()
    return Decision(
        action=turn.action, response=" ".join(spoken.split()), short_circuit=turn.short,
        applied_blocks=tuple(turn.blocks), transfer_target=turn.target, transfer_phone=turn.phone,
        transfer_queue=turn.queue, transfer_sip=turn.sip, collect_entities=turn.entities,
        matched_pattern=turn.pattern, tags=tuple(turn.tags), side_effects=tuple(turn.effects),
        guardrails_fired=tuple(fired), proposed_action=turn.proposed, barge_in=not rt.behavior.never_interrupt,
        missing_variables=tuple(missing), elapsed_ms=elapsed, perf_fault=elapsed > BUDGET_MS,
        base_used=not routing.decided)


def apply(policy: CompiledPolicy, utterance: str | None, base_response: str | BaseResponse | None,
          context: TurnContext, *, timer: Callable[[], float] = perf_counter) -> Decision:
    """Decide one turn: what the caller hears and whether to respond, transfer or hang up."""
    started = timer()
    routing = _route(policy, utterance, context)
    return _finish(policy, routing, routing.turn, base_response, context, lambda: (timer() - started) * 1000.0)


def speak(policy: CompiledPolicy, text: str, context: TurnContext, *, caller_spoke: bool = True,
          utterance: str = "", action: str = "RESPOND") -> str:
    """Only the last two steps (guardrails, then behavior) for a text of our own, such as an entity prompt.

    No rule is consulted, so a prompt never triggers an edge case or a transfer.
    """
    rt: Runtime = policy.runtime
    said, _, _, _ = rt.render(text or "", context.company)
    said, _ = rt.behavior.apply(said, company=context.company, is_first_turn=context.is_first_turn,
                                caller_spoke=caller_spoke, collected=context.collected_entities,
                                utterance=utterance, variation=context.variation, action=action)
    return " ".join(said.split())

"""Find the words that show whether a sentence names a source, points vaguely at one, or hedges.

Pure rules over one sentence, German first and English second. Each hit is a `Cue` with
its offsets, so the moderator sees the very words that decided a sentence's type:
attribution ("laut X", "X zufolge", "teilte ... mit", "wie X berichtete", quotes with a
speech verb, URLs, "according to"), vague sources ("Experten sagen", "angeblich",
"Berichten zufolge", "wurde berichtet", "sollen ... haben"), opinion, hedges and
questions, and checkable-fact evidence (numbers, dates, amounts, names).
"""

from __future__ import annotations

import math
import re
from bisect import bisect_right
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

import ahocorasick


def word_set(words: str) -> frozenset[str]:
    """Return the whitespace-separated words of a word-list literal as a set."""
    return frozenset(words.split())


CueKind = Literal["attribution", "vague", "reported", "opinion", "hedge", "question", "evidence"]

# Determiners and possessives that open a noun phrase naming a source.
DETERMINERS = word_set(
    "der die das dem den des ein eine einem einer eines einen ihres ihrer ihrem ihren "
    "seines seiner seinem seinen unseres unserer deren dessen mehrerer mehreren "
    "the a an its their his her"
)
ARTICLES = word_set("der die das dem den des ein eine einem einer eines einen the a an")
# Words after which a phrase cannot be a source any more.
_STOP_WORDS = word_set(
    "im in am an auf aus bei mit nach seit von vom zum zur für gegen über unter vor "
    "dass daß ob wenn weil denn und oder aber sondern doch jedoch auch nur noch schon "
    "bereits nun jetzt heute gestern morgen zuletzt zudem außerdem gegenüber damit "
    "habe hat haben hatte hatten sei seien ist sind war waren wird werden wurde wurden "
    "könne könnte soll solle sollen sollte müsse dürfe würde würden "
    "nicht kein keine sich es er sie man wir ich "
    "in on at by to for from with that which and or but also"
)
_PRONOUNS = word_set("er sie es man ich wir ihr du das dies dieser diese wer was he she it they")

# Heads of a source phrase that say "someone" without naming anyone.
VAGUE_HEADS = word_set("""
    experten expertinnen expertenkreisen fachleute fachleuten kritiker kritikern
    beobachter beobachtern insider insidern quellen kreisen regierungskreisen
    sicherheitskreisen medien medienberichten berichten berichte gerüchten studien
    forscher forschern wissenschaftler wissenschaftlern analysten ökonomen
    schätzungen umfragen informationen angaben einschätzungen aussagen
    experts sources reports studies critics observers insiders analysts scientists
    """)
# Heads that are "a report of": the source is their genitive or "von" complement.
REPORT_HEADS = word_set("""
    angaben angabe einschätzung einschätzungen informationen information aussagen
    aussage berichten bericht berichte schätzungen schätzung daten zahlen recherchen
    erkenntnissen erkenntnisse darstellung mitteilung worten äußerungen studie umfrage
    analyse statistik auskunft
    """)
# Descriptive nouns before a name: "Nachrichtenagentur KCNA" names KCNA.
_DESCRIPTOR = re.compile(
    r"(agentur|zeitung|zeitschrift|blatt|magazin|sender|portal|minister(in)?|präsident(in)?|"
    r"kanzler(in)?|sprecher(in)?|chef(in)?|senator(in)?|professor(in)?|forscher(in)?|"
    r"politiker(in)?|abgeordnete[rn]?|bürgermeister(in)?|botschafter(in)?|general|"
    r"instituts?|organisation|behörde|partei)$",
    re.I,
)

# Finite reporting verbs (3rd person, present and past) and their participles.
REPORTING_VERBS = word_set("""
    sagt sagte sagten sagen erklärt erklärte erklärten erklären berichtet berichtete
    berichteten berichten meldet meldete meldeten melden schreibt schrieb schrieben
    betont betonte betonten warnt warnte warnten bestätigt bestätigte bestätigten
    behauptet behauptete behaupteten behaupten äußerte äußerten verkündete verkündeten
    erläuterte erläuterten unterstrich zitierte zitiert twitterte postete signalisierte
    signalisierten signalisiert belehrte versicherte versicherten kritisierte
    gesagt erklärt berichtet gemeldet geschrieben betont gewarnt bestätigt behauptet
    mitgeteilt angekündigt angegeben bekanntgegeben eingeräumt festgestellt
    says said told reported reports stated states announced claimed claims wrote writes
    confirmed confirms warned tweeted
    """)
# Separable reporting verbs: the particle comes at the end of the clause.
SEPARABLE_VERBS: dict[str, tuple[str, ...]] = {
    "teilt": ("mit",),
    "teilte": ("mit",),
    "teilten": ("mit",),
    "gibt": ("an", "bekannt"),
    "gab": ("an", "bekannt", "zu"),
    "gaben": ("an", "bekannt", "zu"),
    "kündigte": ("an",),
    "kündigten": ("an",),
    "kündigt": ("an",),
    "räumte": ("ein",),
    "räumt": ("ein",),
    "stellte": ("fest",),
    "stellt": ("fest",),
    "wies": ("hin",),
}
_SPEAK_VERBS = word_set("spricht sprach sprechen sprachen")
_QUESTION_WORDS = word_set("warum wieso weshalb wer was wie wo wann woher wohin why what how who")
_PASSIVE_AUX = word_set("wurde wurden wird werden worden was were is are been")

# Konjunktiv I forms that mark reported speech (not after "ich", which makes them indicative).
KONJUNKTIV_I = word_set(
    "sei seien könne müsse solle wolle dürfe habe werde gebe liege stehe gehe wisse"
)
_K1_FIXED = re.compile(r"\b(?:es\s+sei\s+denn|sei\s+es|wie\s+dem\s+auch\s+sei|gott\s+sei)\b", re.I)

_VAGUE_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (label, re.compile(pattern, re.I))
    for label, pattern in (
        ("angeblich", r"\bangeblich(?:e[nmrs]?)?\b"),
        ("Berichten zufolge", r"\b(?:Medien)?[Bb]erichten\s+zufolge\b"),
        ("Gerüchten zufolge", r"\bGerüchten\s+zufolge\b"),
        ("man hört", r"\b(?:man\s+hört|hört\s+man|wie\s+man\s+hört)\b"),
        ("es heißt", r"\b(?:es\s+heißt|heißt\s+es|hieß\s+es)\b"),
        (
            "wurde berichtet",
            r"\b(?:wurde|wird|wurden)\s+(?:\w+\s+){0,2}(?:berichtet|gemeldet|behauptet)\b",
        ),
        (
            "Experten sagen",
            r"\b(?:viele\s+|einige\s+|manche\s+|führende\s+)?(?:Experten|Expertinnen|Fachleute|"
            r"Wissenschaftler|Forscher|Kritiker|Beobachter|Insider|Ökonomen|Analysten)\s+"
            r"(?:sagen|meinen|warnen|schätzen|gehen\s+davon\s+aus|behaupten|glauben|sind\s+sich)\b",
        ),
        (
            "Studien zeigen",
            r"\b(?:Studien|Umfragen|Untersuchungen|Statistiken)\s+(?:zeigen|belegen|beweisen|ergaben|ergeben|zeigten)\b",
        ),
        (
            "Experten zufolge",
            r"\b(?:Experten|Fachleuten|Insidern|Beobachtern|Kreisen|Quellen)\s+zufolge\b",
        ),
        ("man sagt", r"\b(?:man\s+sagt|sagt\s+man|wie\s+man\s+weiß)\b"),
        (
            "soll ... haben",
            r"\b(?:soll|sollen)\b[^,;:.!?]{1,80}\b(?:haben|sein|worden)\b(?=\s*[,;:.!?]|\s*$)",
        ),
        ("gerüchteweise", r"\bgerüchteweise\b"),
        ("allegedly", r"\b(?:allegedly|reportedly|supposedly|rumou?red)\b"),
        (
            "experts say",
            r"\b(?:experts|studies|sources|reports|scientists|people|critics|some)\s+"
            r"(?:say|said|show|suggest|claim|believe)\b",
        ),
        ("it is said", r"\bit\s+is\s+(?:said|reported|claimed|believed)\b"),
    )
)

_OPINION_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (label, re.compile(pattern, re.I))
    for label, pattern in (
        (
            "ich finde",
            r"\bich\s+(?:finde|glaube|denke|meine|hoffe|vermute|befürchte|fürchte|bin\s+der\s+(?:Meinung|Ansicht|Überzeugung)|halte)\b",
        ),
        ("meiner Meinung nach", r"\b(?:meiner|unserer)\s+(?:Meinung|Ansicht|Auffassung)\s+nach\b"),
        (
            "meines Erachtens",
            r"\b(?:meines\s+Erachtens|m\.\s?E\.|aus\s+meiner\s+Sicht|für\s+mich)\b",
        ),
        # Thanks, wishes and greetings are speech acts, not statements of fact.
        (
            "Dank / Gruß",
            r"\b(?:vielen\s+dank|herzlichen\s+dank|danke|herzlichen\s+glückwunsch|glückwunsch|"
            r"(?:liebe|viele|herzliche|beste|freundliche)n?\s+grüßen?|bravo|"
            r"thank\s+you|thanks|congratulations)\b",
        ),
        ("finde ich", r"\b(?:finde|glaube|denke|meine|hoffe)\s+ich\b"),
        (
            "I think",
            r"\bI\s+(?:think|believe|feel|guess|hope|suppose)\b|\bin\s+my\s+(?:opinion|view)\b|\bIMO\b",
        ),
    )
)

_HEDGE_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (label, re.compile(pattern, re.I))
    for label, pattern in (
        (
            "Vermutung",
            r"\b(?:vielleicht|wahrscheinlich|vermutlich|womöglich|möglicherweise|eventuell|"
            r"hoffentlich|anscheinend|offenbar|scheinbar|unklar|fraglich|denkbar)\b",
        ),
        ("scheint", r"\b(?:scheint|scheinen|schien|schienen)\b"),
        (
            "Konjunktiv II",
            r"\b(?:könnte|könnten|würde|würden|dürfte|dürften|müsste|müssten|sollte|sollten|"
            r"wäre|wären|hätte|hätten)\b",
        ),
        (
            "maybe",
            r"\b(?:maybe|perhaps|probably|possibly|might|could|would|seems?|seemed|unclear)\b",
        ),
    )
)

_MONTHS = (
    r"Januar|Jänner|Februar|März|April|Mai|Juni|Juli|August|September|Oktober|November|Dezember|"
    r"Jan|Feb|Mär|Apr|Jun|Jul|Aug|Sep|Sept|Okt|Nov|Dez|January|February|March|June|July|October|December"
)
_EVIDENCE_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "Betrag",
        re.compile(
            r"(?:[€$£]\s?\d[\d.,]*|\d[\d.,]*\s?(?:%|€|\$|Prozent|Euro|Dollar|Franken|Pfund|"
            r"Mio\.?|Millionen|Mrd\.?|Milliarden|Tsd\.?|Tausend|percent|million|billion))",
            re.I,
        ),
    ),
    (
        "Datum",
        re.compile(
            rf"\b(?:\d{{1,2}}\.\s?(?:{_MONTHS})\b|(?:{_MONTHS})\s+(?:19|20)\d\d\b|\b(?:19|20)\d\d\b)"
        ),
    ),
    ("Zahl", re.compile(r"\b\d[\d.,]*\b")),
    (
        "Zeitangabe",
        re.compile(
            rf"\b(?:(?:im|am|seit|ab|bis|Ende|Anfang|Mitte)\s+(?:{_MONTHS}|Montag|Dienstag|Mittwoch|"
            r"Donnerstag|Freitag|Samstag|Sonntag|Sommer|Winter|Frühjahr|Herbst)|gestern|vorgestern|"
            r"(?:letzte[nr]?|vergangene[nr]?|vorige[nr]?)\s+(?:Woche|Monat|Jahr|Jahres|Sommer|Winter)|"
            r"in\s+diesem\s+Jahr|last\s+(?:year|week|month)|yesterday)\b",
            re.I,
        ),
    ),
    (
        "Zahlwort",
        re.compile(
            r"\b(?:zwei|drei|vier|fünf|sechs|sieben|acht|neun|zehn|elf|zwölf|zwanzig|dreißig|"
            r"hundert|tausend|Millionen|Milliarden|Hälfte|Drittel|Viertel|Dutzende)\b",
            re.I,
        ),
    ),
)
_URL = re.compile(r"\b(?:https?://|www\.)[^\s<>\"]+", re.I)
_WORD = re.compile(r"[^\W_][\w\-]*(?:\.(?=[A-ZÄÖÜ]))?", re.UNICODE)
_QUOTE = re.compile(r"[\"„“”»«]([^\"„“”»«]{3,})[\"„“”»«]")
_ACRONYM = re.compile(r"\b[A-ZÄÖÜ]{2,}[a-z]?\b")


def _parts(words: str) -> tuple[str, ...]:
    return tuple(words.split())


_MONTH_PARTS = "jan jän feb mär mar apr mai jun jul aug sep okt oct nov dez dec"
#: For each pattern above (by label), lower-case strings one of which is in every match:
#: a pattern runs only on sentences that contain one of them, a substring test that costs
#: a fraction of a regex pass (most sentences have none of these cues). "digit": every
#: match has a decimal digit. A label missing here always runs. Checked on every match of
#: the test sentences by tests/unit/scoring/test_cues.py.
_NEEDS: dict[str, tuple[str, ...] | Literal["digit"]] = {
    "angeblich": ("angeblich",),
    "Berichten zufolge": ("zufolge",),
    "Gerüchten zufolge": ("zufolge",),
    "man hört": ("hört",),
    "es heißt": ("heißt", "hieß"),
    "wurde berichtet": ("berichtet", "gemeldet", "behauptet"),
    "Experten sagen": _parts(
        "experten expertinnen fachleute wissenschaftler forscher kritiker beobachter insider "
        "ökonomen analysten"
    ),
    "Studien zeigen": ("studien", "umfragen", "untersuchungen", "statistiken"),
    "Experten zufolge": ("zufolge",),
    "man sagt": ("sagt", "weiß"),
    "soll ... haben": ("soll",),
    "gerüchteweise": ("gerüchteweise",),
    "allegedly": ("allegedly", "reportedly", "supposedly", "rumo"),
    "experts say": ("say", "said", "show", "suggest", "claim", "believe"),
    "it is said": ("said", "reported", "claimed", "believed"),
    # The verbs, not "ich": "ich" is in "nicht", "sich", "wirklich" and most comments.
    "ich finde": _parts("finde glaube denke meine hoffe vermute fürchte bin halte"),
    "meiner Meinung nach": ("meinung", "ansicht", "auffassung"),
    "meines Erachtens": ("erachtens", "m.", "sicht", "mich"),
    "Dank / Gruß": ("dank", "glückwunsch", "grüß", "bravo", "thank", "congratulations"),
    "finde ich": _parts("finde glaube denke meine hoffe"),
    "I think": _parts("think believe feel guess hope suppose opinion view imo"),
    "Vermutung": _parts(
        "vielleicht wahrscheinlich vermutlich womöglich möglicherweise eventuell hoffentlich "
        "anscheinend offenbar scheinbar unklar fraglich denkbar"
    ),
    "scheint": ("schein", "schien"),
    "Konjunktiv II": ("könnte", "würde", "dürfte", "müsste", "sollte", "wäre", "hätte"),
    "maybe": _parts("maybe perhaps probably possibly might could would seem unclear"),
    "Betrag": "digit",
    "Datum": "digit",
    "Zahl": "digit",
    "Zeitangabe": _parts(
        f"{_MONTH_PARTS} tag mittwoch sommer winter frühjahr herbst gestern letzte "
        "vergangene vorige diesem last yesterday"
    ),
    "Zahlwort": _parts(
        "zwei drei vier fünf sechs sieben acht neun zehn elf zwölf zwanzig hundert tausend "
        "millionen milliarden hälfte drittel dutzende"
    ),
    "URL": ("http", "www."),
}
#: Each string of _NEEDS, and the labels that need it.
_NEEDLES: dict[str, frozenset[str]] = {
    part: frozenset(label for label, needs in _NEEDS.items() if needs != "digit" and part in needs)
    for needs in _NEEDS.values()
    if needs != "digit"
    for part in needs
}
_DIGIT_LABELS = frozenset(label for label, needs in _NEEDS.items() if needs == "digit")


def _needle_automaton() -> Any:
    """Return an Aho-Corasick automaton of the _NEEDLES strings (each its own value).

    One pass over a text finds which of the ~150 strings occur in it, instead of one
    substring search per string (a fifth of the time on a 400-character comment).
    """
    automaton = ahocorasick.Automaton()
    for part in _NEEDLES:
        automaton.add_word(part, part)
    automaton.make_automaton()
    return automaton


_FIND_NEEDLES = _needle_automaton().iter
#: Characters that IGNORECASE matches to a letter other than their lower case (İ, ı, ſ):
#: a sentence with one runs every pattern.
_FOLD_UNSAFE = re.compile("[\u0130\u0131\u017f]")
_DIGIT = re.compile(r"\d")


class _Gate:
    """Which patterns can match in one sentence (see _NEEDS).

    `within`, the gate of the whole text, answers first: a pattern that cannot match
    anywhere in the text cannot match in one of its sentences (what a sentence's lower
    case contains, the text's lower case contains too), so most sentences of a document
    test only the few labels whose words occur somewhere in it.
    """

    __slots__ = ("digit", "folded", "labels", "within")

    def __init__(self, sentence: str, within: frozenset[str] | None = None) -> None:
        self.folded = None if _FOLD_UNSAFE.search(sentence) else sentence.lower()
        self.digit = _DIGIT.search(sentence) is not None
        self.within = within
        #: `open_labels()` of this sentence, found on the first `opens` that needs it.
        self.labels: frozenset[str] | None = None

    def open_labels(self) -> frozenset[str] | None:
        """Return the labels of _NEEDS whose pre-test passes here (None: all may match)."""
        folded = self.folded
        if folded is None:
            return None
        labels = _DIGIT_LABELS if self.digit else frozenset()
        for part in {part for _end, part in _FIND_NEEDLES(folded)}:
            labels |= _NEEDLES[part]
        return labels

    def opens(self, label: str) -> bool:
        within = self.within
        if within is not None and label in _NEEDS and label not in within:
            return False
        needs = _NEEDS.get(label)
        if needs is None or self.folded is None:
            return True
        if needs == "digit":
            return self.digit
        if self.labels is None:
            # One Aho-Corasick pass answers every later label of the sentence too.
            self.labels = self.open_labels()
        return self.labels is None or label in self.labels


@dataclass(frozen=True)
class Cue:
    """One cue word or phrase in a sentence: its offsets, its kind and its label."""

    start: int
    end: int
    kind: CueKind
    label: str


@dataclass
class SentenceCues:
    """What the rules found in one sentence."""

    cues: list[Cue] = field(default_factory=list)
    source: str | None = None
    attributed: bool = False
    vague: bool = False
    reported: bool = False
    opinion: bool = False
    hedged: bool = False
    question: bool = False
    evidence: int = 0
    words: int = 0

    def kinds(self, kind: CueKind) -> list[Cue]:
        return [c for c in self.cues if c.kind == kind]


class _Token(NamedTuple):
    text: str
    start: int
    end: int
    # Computed once: the rules ask for both many times per token.
    lower: str
    capitalised: bool


def tokens(text: str, start: int = 0, end: int | None = None) -> list[_Token]:
    """Return the word tokens of text[start:end] with absolute offsets."""
    stop = len(text) if end is None else end
    out = []
    for m in _WORD.finditer(text, start, stop):
        word = m.group()
        out.append(_Token(word, m.start(), m.end(), word.lower(), word[:1].isupper()))
    return out


def analyse_all(text: str, sentences: list[tuple[int, int]]) -> list[SentenceCues]:
    """Return the cues of each sentence of text: `analyse` with one pre-test of the text."""
    if len(sentences) < 2:
        return [analyse(text, s, e) for s, e in sentences]
    plan = _plan(_Gate(text).open_labels())
    return [analyse(text, s, e, plan) for s, e in sentences]


def analyse(text: str, start: int, end: int, plan: _Plan | None = None) -> SentenceCues:
    """Return the cues of the sentence text[start:end] (offsets are absolute).

    `plan` holds the patterns whose pre-test passes on the whole text (`analyse_all`):
    the others cannot match in the sentence. It changes no result.
    """
    plan = plan or _FULL_PLAN
    found = SentenceCues()
    texts = _WORD.findall(text, start, end)
    # Only words with letters count: "IZ 23.07. 25" is a reference line, not a claim.
    found.words = len(texts) - sum(map(str.isdigit, texts))
    # The token objects are built only for sentences with a word the token rules look at.
    present = set(map(str.lower, texts))
    needs_tokens = not (_TOKEN_TRIGGERS.isdisjoint(present) and KONJUNKTIV_I.isdisjoint(present))
    words = tokens(text, start, end) if needs_tokens else []
    sentence = text[start:end]
    gate = _Gate(sentence, plan.labels)
    _find_attribution(text, start, end, words, found, gate)
    for label, pattern in plan.vague:
        if not gate.opens(label):
            continue
        for m in pattern.finditer(text, start, end):
            found.cues.append(Cue(m.start(), m.end(), "vague", label))
            found.vague = True
    _find_konjunktiv(words, text, start, end, found)
    for label, pattern in plan.opinion:
        if not gate.opens(label):
            continue
        for m in pattern.finditer(text, start, end):
            found.cues.append(Cue(m.start(), m.end(), "opinion", label))
            found.opinion = True
    for label, pattern in plan.hedge:
        if not gate.opens(label):
            continue
        for m in pattern.finditer(text, start, end):
            found.cues.append(Cue(m.start(), m.end(), "hedge", label))
            found.hedged = True
    stripped = sentence.rstrip(" \"'“”»«)")
    if stripped.endswith("?"):
        found.question = True
        found.cues.append(Cue(start + len(stripped) - 1, start + len(stripped), "question", "?"))
    _find_evidence(text, start, end, found, gate, plan.evidence)
    return found


Patterns = tuple[tuple[str, re.Pattern[str]], ...]


def _open(patterns: Patterns, labels: frozenset[str]) -> Patterns:
    """Return the patterns whose pre-test passed on the whole text, or that have none."""
    return tuple(p for p in patterns if p[0] in labels or p[0] not in _NEEDS)


class _Plan(NamedTuple):
    """The patterns worth running on the sentences of one text (see `analyse_all`)."""

    vague: Patterns
    opinion: Patterns
    hedge: Patterns
    evidence: Patterns
    #: The labels whose pre-test passed on the whole text; None: all may match.
    labels: frozenset[str] | None


def _plan(labels: frozenset[str] | None) -> _Plan:
    if labels is None:
        return _FULL_PLAN
    return _Plan(
        _open(_VAGUE_PATTERNS, labels),
        _open(_OPINION_PATTERNS, labels),
        _open(_HEDGE_PATTERNS, labels),
        _open(_EVIDENCE_PATTERNS, labels),
        labels,
    )


def _find_attribution(
    text: str,
    start: int,
    end: int,
    words: list[_Token],
    found: SentenceCues,
    gate: _Gate | None = None,
) -> None:
    lowers = [w.lower for w in words]
    for m in _URL.finditer(text, start, end) if gate is None or gate.opens("URL") else ():
        found.cues.append(Cue(m.start(), m.end(), "attribution", "URL"))
        _attribute(found, _domain(m.group()))
    for i, low in enumerate(lowers):
        if low in ("laut", "gemäß", "lt") or (low == "according" and _next_is(lowers, i, "to")):
            skip = 2 if low == "according" else 1
            phrase = _without_determiner(_noun_phrase(text, words, i + skip))
            cue_end = words[i + skip - 1].end
            found.cues.append(
                Cue(
                    words[i].start,
                    cue_end,
                    "attribution",
                    words[i].text if skip == 1 else "according to",
                )
            )
            _attribute(found, phrase)
        elif low == "zufolge" and i > 0:
            phrase = _phrase_before(text, words, i)
            found.cues.append(Cue(words[i].start, words[i].end, "attribution", "zufolge"))
            _attribute(found, phrase)
        elif low == "nach" and i + 1 < len(words) and lowers[i + 1] in _NACH_NOUNS:
            phrase = _without_determiner(_noun_phrase(text, words, i + 1))
            found.cues.append(
                Cue(words[i].start, words[i + 1].end, "attribution", f"nach {words[i + 1].text}")
            )
            _attribute(found, phrase)
        elif low == "wie" and (
            i == 0 or text[words[i - 1].end : words[i].start].strip() in (",", "")
        ):
            verb = _reporting_verb_after(lowers, i + 1, limit=12)
            if verb is not None:
                phrase = _noun_phrase(text, words, i + 1)
                found.cues.append(
                    Cue(words[i].start, words[i].end, "attribution", f"wie … {words[verb].text}")
                )
                found.cues.append(
                    Cue(words[verb].start, words[verb].end, "attribution", words[verb].text)
                )
                _attribute(
                    found,
                    phrase if phrase else None,
                    passive=_passive(lowers, verb, _same_clause(text, words, verb)),
                )
    if found.attributed:
        return
    for i, low in enumerate(lowers):
        particle_end = None
        if low in SEPARABLE_VERBS:
            particle_end = _particle(text, words, i, SEPARABLE_VERBS[low], end)
            if particle_end is None:
                continue
        elif low in _SPEAK_VERBS and _next_is(lowers, i, "von"):
            particle_end = words[i + 1].end  # "Quellen sprechen von 200 Toten"
        elif low not in REPORTING_VERBS:
            continue
        if _passive(lowers, i, _same_clause(text, words, i)):
            if not any(c.kind == "vague" for c in found.cues):
                found.cues.append(
                    Cue(words[i].start, words[i].end, "vague", f"Passiv: {words[i].text}")
                )
            found.vague = True
            continue
        subject = _subject(text, words, i)
        if subject is None:
            continue
        found.cues.append(
            Cue(
                words[i].start,
                words[i].end if particle_end is None else particle_end,
                "attribution",
                words[i].text,
            )
        )
        _attribute(found, subject)
        return
    # A quote introduced by a name and a colon: 'Merkel: "Wir schaffen das."'
    colon = _COLON_QUOTE.match(text, start, end)
    if colon:
        found.cues.append(Cue(colon.start(1), colon.end(1), "attribution", "Zitat"))
        _attribute(found, colon.group(1))


_COLON_QUOTE = re.compile(r"\s*([A-ZÄÖÜ][\w\-]+(?:\s+[A-ZÄÖÜ][\w\-]+){0,3})\s*:\s*[\"„“»]")


def _attribute(found: SentenceCues, phrase: str | None, *, passive: bool = False) -> None:
    """Record a source phrase: named ones attribute, unnamed ones ("Experten") are vague."""
    if phrase is None or passive:
        found.vague = True
        return
    if _is_vague(phrase):
        found.vague = True
        return
    if found.source is None:
        found.source = phrase
    found.attributed = True


def _without_determiner(phrase: str | None) -> str | None:
    """Drop a leading article: 'laut dem Bundesamt' names 'Bundesamt'."""
    if phrase is None:
        return None
    first, _, rest = phrase.partition(" ")
    return rest if rest and first.lower() in ARTICLES else phrase


def _is_vague(phrase: str) -> bool:
    """Return whether a source phrase names nobody ("einige Experten", "Berichten")."""
    words: list[str] = [w for w in re.findall(r"[\w\-]+", phrase) if w.lower() not in DETERMINERS]
    if not words:
        return True
    if len(words) == 1 and words[0].lower() in _PRONOUNS:
        return words[0].lower() == "man"
    # "Experten der WHO" name someone: a capitalised word that is not itself vague.
    named = any(
        w[:1].isupper() and w.lower() not in VAGUE_HEADS and w.lower() not in _QUANTIFIERS
        for w in words
    )
    if named:
        return False
    return words[-1].lower() in VAGUE_HEADS or all(
        w.lower() in VAGUE_HEADS or w.lower() in _QUANTIFIERS for w in words
    )


_QUANTIFIERS = word_set(
    "viele einige manche mehrere verschiedene unabhängige gut informierte informierten"
)


def _domain(url: str) -> str:
    host = re.sub(r"^(?:https?://)?(?:www\.)?", "", url, flags=re.I)
    return host.split("/")[0].rstrip(".,;:)")


def _next_is(lowers: list[str], i: int, word: str) -> bool:
    return i + 1 < len(lowers) and lowers[i + 1] == word


def _passive(lowers: list[str], i: int, follows_in_clause: bool = True) -> bool:
    """Return whether reporting verb i is passive ("wurde berichtet", "wie berichtet wurde")."""
    window = lowers[max(0, i - 3) : i]
    if follows_in_clause:
        window += lowers[i + 1 : i + 2]
    return any(w in _PASSIVE_AUX for w in window) and not any(
        w in _PERFECT_AUX for w in lowers[max(0, i - 8) : i]
    )


_PERFECT_AUX = word_set("hat haben hatte hatten has have had")


def _same_clause(text: str, words: list[_Token], i: int) -> bool:
    """Return whether words[i] and words[i + 1] are in the same clause (no punctuation between)."""
    if i + 1 >= len(words):
        return False
    return not any(ch in text[words[i].end : words[i + 1].start] for ch in ",;:.!?")


_NACH_NOUNS = word_set(
    "angaben informationen aussage aussagen darstellung einschätzung auskunft recherchen "
    "schätzungen"
)
#: Verb-final reporting verbs of a "wie ... berichtete" clause, besides REPORTING_VERBS.
_FINITE_REPORTING = word_set(
    "mitteilte angab bekanntgab ankündigte feststellte meldete schrieb zeigte ergab"
)


def _reporting_verb_after(lowers: list[str], i: int, limit: int) -> int | None:
    for j in range(i, min(len(lowers), i + limit)):
        if lowers[j] in REPORTING_VERBS or lowers[j] in _FINITE_REPORTING:
            return j
    return None


def _particle(
    text: str, words: list[_Token], i: int, particles: tuple[str, ...], end: int
) -> int | None:
    """Return the end of the separated particle that closes the clause, if there is one."""
    for j in range(i + 1, min(len(words), i + 16)):
        between = text[words[j - 1].end : words[j].start]
        if any(ch in between for ch in ",;:.!?"):
            break
        if words[j].lower in particles:
            after = text[words[j].end : min(end, words[j].end + 2)].strip()
            if (
                not after
                or after[0] in ",;:.!?"
                or (j + 1 < len(words) and words[j + 1].lower in ("dass", "daß"))
            ):
                return words[j].end
    return None


def _subject(text: str, words: list[_Token], i: int) -> str | None:
    """Return the subject of reporting verb words[i]: the phrase before it (V2) or after it."""
    clause_start = i
    while clause_start > 0:
        between = text[words[clause_start - 1].end : words[clause_start].start]
        if any(ch in between for ch in ',;:("„“»'):
            break
        clause_start -= 1
    before = words[clause_start:i]
    # Perfect tense: the subject stands before the auxiliary ("Die Polizei hat ... mitgeteilt").
    for k, w in enumerate(before):
        if w.lower in _PERFECT_AUX and k > 0:
            before = before[:k]
            break
    if before and _looks_like_phrase(before):
        phrase = text[before[0].start : before[-1].end]
        if len(before) == 1 and before[0].lower in _PRONOUNS:
            return None
        return phrase
    after = _noun_phrase(text, words, i + 1)
    if after is None or after.split()[0].lower() in _PRONOUNS:
        return None
    return after


def _looks_like_phrase(ws: list[_Token]) -> bool:
    if len(ws) > 8:
        return False
    if ws[0].lower not in DETERMINERS and not ws[0].capitalised:
        return False
    if ws[0].lower in _STOP_WORDS and ws[0].lower not in DETERMINERS:
        return False
    if ws[0].lower in _QUESTION_WORDS:
        return False
    has_noun = False
    english = ws[0].lower in ("the", "a", "an")
    for w in ws[1:] if ws[0].lower in DETERMINERS else ws:
        if w.lower in _STOP_WORDS:
            return False
        if w.capitalised or english:
            has_noun = True
        elif not (w.lower in DETERMINERS or re.search(r"(?:e|en|er|es|em)$", w.lower)):
            return False
    return has_noun


def _noun_phrase(text: str, words: list[_Token], i: int) -> str | None:
    """Return the noun phrase that starts at words[i] (a quoted title counts as one)."""
    if i >= len(words):
        return None
    gap = text[words[i - 1].end if i > 0 else 0 : words[i].start]
    k = i
    while k < len(words) and words[k].lower in DETERMINERS:
        k += 1
    # A quoted name: laut der "South China Morning Post".
    quote_start = words[k].start if k < len(words) else words[i].start
    lead = text[words[k - 1].end if k > i else words[i].start - len(gap) : quote_start]
    if k < len(words) and any(q in lead or q in gap for q in "\"„“»'"):
        m = re.match(r"([^\"„“”»«']{2,80})[\"“”«']", text[quote_start:])
        if m:
            return m.group(1).strip()
    start_tok = i
    j = k
    while (
        j < len(words)
        and not words[j].capitalised
        and words[j].lower not in _STOP_WORDS
        and re.search(r"(?:e|en|er|es|em)$", words[j].lower)
    ):
        j += 1
    heads: list[int] = []
    while (
        j < len(words)
        and (words[j].capitalised or words[j].text.isupper())
        and words[j].lower not in _STOP_WORDS
    ):
        if heads and any(ch in text[words[j - 1].end : words[j].start] for ch in ',;:.!?"„“»('):
            break
        heads.append(j)
        j += 1
    if not heads:
        return None
    # "Bundesamt für Migration", "Institut für Wirtschaftsforschung": one name.
    if (
        j + 1 < len(words)
        and words[j].lower == "für"
        and words[j + 1].capitalised
        and words[j + 1].lower not in _STOP_WORDS
    ):
        heads.append(j + 1)
        j += 2
    head = words[heads[0]].lower
    # Genitive or "von" complement: "Einschätzungen ihres Geheimdienstes", "Angaben von Amnesty".
    complement = None
    if j < len(words) and words[j].lower in (
        "des",
        "der",
        "eines",
        "einer",
        "ihres",
        "ihrer",
        "seines",
        "seiner",
        "von",
        "vom",
        "of",
        "the",
    ):
        comp = _noun_phrase(text, words, j + 1 if words[j].lower in ("von", "vom", "of") else j)
        if comp is not None:
            complement = (j, comp)
    if head in REPORT_HEADS and len(heads) == 1:
        if complement is not None:
            return complement[1]
        return text[words[start_tok].start : words[heads[-1]].end]
    # "Nachrichtenagentur KCNA", "Außenminister Sergey Lawrow": the name is the source.
    if len(heads) > 1 and _DESCRIPTOR.search(words[heads[0]].text):
        return text[words[heads[1]].start : words[heads[-1]].end]
    end_tok = heads[-1]
    phrase = text[words[start_tok].start : words[end_tok].end]
    if complement is not None:
        # A genitive complement starts with its article; a "von" one needs "von" put back.
        link = words[complement[0]]
        joined = (
            f"{link.text} {complement[1]}" if link.lower in ("von", "vom", "of") else complement[1]
        )
        phrase = f"{phrase} {joined}"
    return phrase


def _phrase_before(text: str, words: list[_Token], i: int) -> str | None:
    """Return the phrase that ends right before words[i] ("Dem Ministerium zufolge")."""
    j = i
    while j > 0 and i - j < 8:
        prev = words[j - 1]
        between = text[prev.end : words[j].start]
        if any(ch in between for ch in ",;:.!?"):
            break
        if prev.lower in _STOP_WORDS and prev.lower not in DETERMINERS:
            break
        j -= 1
    if j == i:
        return None
    span = words[j:i]
    while span and span[0].lower in DETERMINERS:
        span = span[1:]
    if not span:
        return None
    return text[span[0].start : span[-1].end].strip(' "„“”»«')


def _find_konjunktiv(
    words: list[_Token], text: str, start: int, end: int, found: SentenceCues
) -> None:
    fixed: list[tuple[int, int]] | None = None
    for i, w in enumerate(words):
        if w.lower not in KONJUNKTIV_I:
            continue
        if fixed is None:  # only sentences with a Konjunktiv I form need the fixed phrases
            fixed = [(m.start(), m.end()) for m in _K1_FIXED.finditer(text, start, end)]
        # "ich habe", "habe ich", "werde ich" are indicative; only "sei" is K1 with "ich".
        beside = {words[k].lower for k in (i - 1, i + 1) if 0 <= k < len(words)}
        if "ich" in beside and w.lower != "sei":
            continue
        if any(a <= w.start < b for a, b in fixed):
            continue
        found.cues.append(Cue(w.start, w.end, "reported", "Konjunktiv I"))
        found.reported = True


def _find_evidence(
    text: str,
    start: int,
    end: int,
    found: SentenceCues,
    gate: _Gate | None = None,
    patterns: Patterns | None = None,
) -> None:
    taken: list[tuple[int, int]] = []
    for label, pattern in _EVIDENCE_PATTERNS if patterns is None else patterns:
        if gate is not None and not gate.opens(label):
            continue
        for m in pattern.finditer(text, start, end):
            if any(a < m.end() and m.start() < b for a, b in taken):
                continue
            taken.append((m.start(), m.end()))
            found.cues.append(Cue(m.start(), m.end(), "evidence", label))
            found.evidence += 1


def quoted_spans(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Return the quoted passages (inside the quote marks) of text[start:end]."""
    return [(m.start(1), m.end(1)) for m in _QUOTE.finditer(text, start, end)]


#: Names of the cue features, in the order `features` returns them.
FEATURE_NAMES: tuple[str, ...] = (
    "attributed",
    "vague",
    "reported",
    "opinion",
    "hedged",
    "question",
    "evidence",
    "urls",
    "acronyms",
    "quotes",
    "first_person",
    "sentences",
    "log_chars",
)
# The longest GermEval 2021 training comment has 7,029 characters and 33 sentences; the
# length features stop here so that a linear model does not extrapolate past its data
# (a 100,000-character text would otherwise be "certainly a factual claim").
MAX_FEATURE_CHARS = 8000
MAX_FEATURE_SENTENCES = 40
_FIRST_PERSON = re.compile(r"\b(?:ich|mich|mir|mein\w*|wir|uns|unser\w*|I|me|my)\b", re.I)


def features(text: str, sentences: list[tuple[int, int]]) -> list[float]:
    """Return the cue counts of a whole text, per FEATURE_NAMES (model input)."""
    return features_from(text, [analyse(text, s, e) for s, e in sentences])


def features_from(text: str, found: list[SentenceCues]) -> list[float]:
    """Return FEATURE_NAMES values for a text whose sentences were already analysed."""
    counts = dict.fromkeys(FEATURE_NAMES, 0.0)
    for f in found:
        counts["attributed"] += f.attributed
        counts["vague"] += f.vague
        counts["reported"] += f.reported
        counts["opinion"] += f.opinion
        counts["hedged"] += f.hedged
        counts["question"] += f.question
        counts["evidence"] += f.evidence
    counts["urls"] = len(_URL.findall(text))
    counts["acronyms"] = len(_ACRONYM.findall(text))
    counts["quotes"] = len(_QUOTE.findall(text))
    counts["first_person"] = len(_FIRST_PERSON.findall(text))
    counts["sentences"] = min(len(found), MAX_FEATURE_SENTENCES)
    values = [math.log1p(counts[n]) for n in FEATURE_NAMES]
    values[FEATURE_NAMES.index("log_chars")] = math.log1p(min(len(text), MAX_FEATURE_CHARS))
    return values


_QUOTE_CHAR = re.compile('["„“”»«]')


def sentence_features(
    text: str, sentences: list[tuple[int, int]], found: list[SentenceCues]
) -> tuple[list[list[float]], list[float]]:
    """Return `features_from` of each sentence alone and of the whole text, in one pass.

    Row i equals `features_from(text[s:e], [found[i]])` for sentence i = (s, e), and the
    last value equals `features_from(text, found)`. URLs, acronyms and first-person words
    never contain whitespace: when every sentence starts and ends next to whitespace (or
    the text's ends), one search of the whole text, put into sentences by offset, finds
    what a search of each sentence finds. Quotes may span sentences: only sentences with
    a quote mark are searched for them.
    """
    n = len(sentences)
    size = len(text)
    at_spaces = all(
        (s == 0 or text[s - 1].isspace()) and (e == size or text[e].isspace()) for s, e in sentences
    )
    if not at_spaces:
        rows = [features_from(text[s:e], [f]) for (s, e), f in zip(sentences, found, strict=True)]
        return rows, features_from(text, found)
    starts = [s for s, _ in sentences]
    ends = [e for _, e in sentences]

    def per_sentence(pattern: re.Pattern[str]) -> tuple[list[int], int]:
        counts = [0] * n
        total = 0
        for m in pattern.finditer(text):
            total += 1
            i = bisect_right(starts, m.start()) - 1
            if i >= 0 and m.end() <= ends[i]:
                counts[i] += 1
        return counts, total

    # Every URL match holds "http" or "www." in lower case (see _NEEDS["URL"]).
    low = text.lower()
    if "http" in low or "www." in low:
        urls, n_urls = per_sentence(_URL)
    else:
        urls, n_urls = [0] * n, 0
    acronyms, n_acronyms = per_sentence(_ACRONYM)
    first_person, n_first = per_sentence(_FIRST_PERSON)
    quoted = _QUOTE_CHAR.search(text) is not None
    quotes = [len(_QUOTE.findall(text, s, e)) if quoted else 0 for s, e in sentences]
    log = math.log1p
    rows = []
    for i, f in enumerate(found):
        # FEATURE_NAMES order; one sentence: "sentences" is 1, "log_chars" its length.
        rows.append(
            [
                log(f.attributed),
                log(f.vague),
                log(f.reported),
                log(f.opinion),
                log(f.hedged),
                log(f.question),
                log(f.evidence),
                log(urls[i]),
                log(acronyms[i]),
                log(quotes[i]),
                log(first_person[i]),
                log(1),
                log(min(ends[i] - starts[i], MAX_FEATURE_CHARS)),
            ]
        )
    whole = [
        log(sum(f.attributed for f in found)),
        log(sum(f.vague for f in found)),
        log(sum(f.reported for f in found)),
        log(sum(f.opinion for f in found)),
        log(sum(f.hedged for f in found)),
        log(sum(f.question for f in found)),
        log(sum(f.evidence for f in found)),
        log(n_urls),
        log(n_acronyms),
        log(len(_QUOTE.findall(text)) if quoted else 0),
        log(n_first),
        log(min(n, MAX_FEATURE_SENTENCES)),
        log(min(size, MAX_FEATURE_CHARS)),
    ]
    return rows, whole


#: Lower-case words without which the token rules of `_find_attribution` (after the URL
#: search, before the quote-with-colon one) and `_find_konjunktiv` find nothing: each rule
#: starts at one of them (a "wie" or "nach" rule also needs one of its verbs or nouns).
_TOKEN_TRIGGERS = (
    frozenset(("laut", "gemäß", "lt", "according", "zufolge"))
    | _NACH_NOUNS
    | REPORTING_VERBS
    | _FINITE_REPORTING
    | frozenset(SEPARABLE_VERBS)
    | _SPEAK_VERBS
)

_FULL_PLAN = _Plan(_VAGUE_PATTERNS, _OPINION_PATTERNS, _HEDGE_PATTERNS, _EVIDENCE_PATTERNS, None)

"""Toxicity: calibrated scores, insults above civil text, spans on the insult, per language."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from service.scoring import artifacts, sentences, toxicity
from service.scoring.artifacts import ARTIFACTS_DIR, ArtifactError
from service.scoring.document import Builder, Doc
from service.scoring.language import LanguagePhase
from service.scoring.toxicity import ToxicityModel, ToxicityPhase, normalize, windows
from service.scoring.types import SiteConfig, Submission

CIVIL_DE = [
    "Vielen Dank für den ausführlichen Bericht über die Sitzung des Gemeinderats.",
    "Ich sehe das anders: Die Kosten für die neue Brücke scheinen mir zu hoch angesetzt.",
    "Wann genau soll die Umleitung über die Bahnhofstraße aufgehoben werden?",
    "Meine Tochter geht auf diese Schule, und die Lehrer dort leisten gute Arbeit.",
]
INSULTS_DE = [
    "Du bist ein erbärmlicher Vollidiot, halt endlich die Fresse.",
    "Was für ein dummes Arschloch, dieser Schreiberling.",
    "Ihr seid doch alle hirnlose Drecksäcke und gehört weggesperrt!",
    "Verpiss dich, du widerliche Schlampe.",
]
CIVIL_EN = [
    "Thank you for the detailed report on the council meeting last night.",
    "I disagree: the cost estimate for the new bridge seems far too high to me.",
]
INSULTS_EN = [
    "You are a pathetic idiot, just shut the fuck up.",
    "What a stupid asshole this reporter is.",
]


#: Civil reader letters (written for this test, not from any training corpus): long, formal,
#: with hard news vocabulary, but no insult. None of them may be flagged.
CIVIL_LETTERS_DE = [
    # local politics, traffic
    "Zum Bericht über die geplante Umgehungsstraße vom 12. März möchte ich einige Punkte "
    "ergänzen. Seit über zwanzig Jahren wohne ich an der Hauptstraße und erlebe täglich, wie "
    "der Durchgangsverkehr zugenommen hat. Morgens zwischen sieben und neun Uhr stauen sich "
    "die Lastwagen bis zur Kirche, und die Kinder müssen auf dem Schulweg zwischen parkenden "
    "Autos hindurch die Straße überqueren. Die Stadtverwaltung hat in der Bürgerversammlung "
    "angekündigt, die Planung noch in diesem Jahr abzuschließen. Das begrüße ich ausdrücklich. "
    "Allerdings fehlt mir in dem Artikel der Hinweis, dass die neue Trasse durch ein "
    "Naherholungsgebiet führen soll, in dem viele Familien am Wochenende spazieren gehen. "
    "Hier sollte der Gemeinderat prüfen, ob eine Tunnellösung oder eine Führung entlang der "
    "Bahnlinie möglich ist. Die Mehrkosten wären sicher erheblich, aber die Landschaft lässt "
    "sich später nicht zurückkaufen. Ich würde mir wünschen, dass die Zeitung auch die "
    "Stellungnahmen der Naturschutzverbände abdruckt, damit sich alle Leserinnen und Leser "
    "ein vollständiges Bild machen können. Im Übrigen danke ich der Redaktion für die "
    "sorgfältige Berichterstattung über die Sitzungen des Bauausschusses, die ich seit Jahren "
    "mit Interesse verfolge.",
    # foreign policy, war vocabulary
    "Ihr Kommentar zur Lage im Nahen Osten hat mich nachdenklich gemacht. Sie schreiben, "
    "dass die Verhandlungen über einen Waffenstillstand gescheitert seien, weil beide Seiten "
    "auf Maximalforderungen bestanden hätten. Aus meiner Sicht greift diese Darstellung zu "
    "kurz. Die Regierung in Teheran unterstützt seit Jahren bewaffnete Gruppen in der Region, "
    "und das Mullah-Regime hat wiederholt erklärt, keine direkten Gespräche führen zu wollen. "
    "Gleichzeitig darf man nicht übersehen, dass auch westliche Staaten mit ihren "
    "Waffenlieferungen den Konflikt verlängert haben. Der russische Angriffskrieg gegen die "
    "Ukraine zeigt, wie schnell sich regionale Spannungen zu einem großen Krieg ausweiten "
    "können. Staatliche Propaganda auf allen Seiten erschwert es der Bevölkerung, sich ein "
    "eigenes Urteil zu bilden. Ich halte es deshalb für richtig, dass die Bundesregierung "
    "weiterhin auf diplomatische Kanäle setzt und die Vereinten Nationen stärkt. Ob die "
    "Sanktionen gegen die Machthaber wirken, wird sich erst in einigen Jahren zeigen. Die "
    "Geschichte lehrt uns jedenfalls, dass Frieden selten durch Drohungen allein entsteht, "
    "sondern durch geduldige Verhandlungen und Kompromisse, die beiden Seiten etwas "
    "abverlangen. Vielen Dank, dass Sie diesem Thema so viel Raum geben.",
    # health care, long sentences, numbers
    "Als Krankenschwester mit dreißig Jahren Berufserfahrung möchte ich auf Ihren Artikel "
    "über die Schließung der Geburtsstation im Kreiskrankenhaus antworten. Die Zahlen, die "
    "der Landrat genannt hat, sind korrekt: Im vergangenen Jahr wurden dort nur 312 Kinder "
    "geboren, und die Klinik hat ein Defizit von rund 2,4 Millionen Euro gemacht. Trotzdem "
    "halte ich die Entscheidung für falsch. Schwangere Frauen aus den Dörfern im Norden des "
    "Landkreises müssen nun bis zu fünfzig Minuten in die nächste Stadt fahren, und im Winter "
    "sind die Straßen oft nicht geräumt. Die Hebammen, die bisher im Kreiskrankenhaus "
    "gearbeitet haben, werden nicht alle wechseln, weil viele von ihnen Kinder haben und "
    "nicht pendeln können. Ich kenne die Arbeitsbedingungen in der Pflege aus eigener "
    "Erfahrung und weiß, wie schwer es ist, gutes Personal zu finden. Vielleicht könnte der "
    "Kreistag prüfen, ob eine Kooperation mit der Universitätsklinik möglich ist, wie sie in "
    "anderen Bundesländern bereits erprobt wird. Dort teilen sich zwei Häuser die "
    "Bereitschaftsdienste, und die Versorgung ist trotzdem gesichert. Ich hoffe sehr, dass "
    "die Verantwortlichen diese Möglichkeit ernsthaft prüfen, bevor die Station endgültig "
    "geschlossen wird.",
    # culture, sports club, mild criticism
    "Mit großer Freude habe ich gelesen, dass unser Sportverein in diesem Sommer sein "
    "hundertjähriges Bestehen feiert. Mein Großvater gehörte zu den ersten Mitgliedern der "
    "Fußballabteilung, und ich selbst habe dort als Kind schwimmen gelernt. Umso mehr hat mich "
    "überrascht, dass die Jubiläumsfeier ausschließlich im Festzelt auf dem Marktplatz "
    "stattfinden soll. Viele ältere Mitglieder, die den Verein über Jahrzehnte getragen haben, "
    "können die Treppen zur Tribüne nicht mehr steigen und würden sich über einen Empfang im "
    "Vereinsheim freuen. Ich möchte den Vorstand deshalb bitten, auch an diese Gruppe zu "
    "denken. Es wäre schön, wenn es neben dem Festprogramm einen ruhigen Nachmittag mit "
    "Kaffee und Kuchen gäbe, an dem die alten Fotos gezeigt werden. Kritisch sehe ich, dass "
    "die Eintrittspreise für das Konzert am Samstagabend deutlich höher sind als im letzten "
    "Jahr. Gerade Familien mit mehreren Kindern werden sich das kaum leisten können. Ein "
    "ermäßigter Preis für Vereinsmitglieder und Jugendliche wäre ein schönes Zeichen. Ich "
    "wünsche allen Beteiligten viel Erfolg und ein gelungenes Fest.",
    # economy, energy, disagreement with the editor
    "Ihrem Leitartikel zur Energiepolitik muss ich in einigen Punkten widersprechen. Sie "
    "schreiben, der Ausstieg aus der Kohle sei zu schnell beschlossen worden und gefährde "
    "Arbeitsplätze in der Region. Das mag für einzelne Betriebe zutreffen, doch die Studien "
    "des Wirtschaftsministeriums zeigen, dass im Bereich der erneuerbaren Energien in den "
    "letzten zehn Jahren mehr Stellen entstanden sind als in der Kohle verloren gingen. "
    "Richtig ist allerdings, dass die Menschen in der Lausitz mehr Unterstützung brauchen, "
    "als die Politik bisher geleistet hat. Die versprochenen Bahnverbindungen lassen auf sich "
    "warten, und die Ansiedlung neuer Unternehmen geht nur langsam voran. Hier erwarte ich "
    "von der Landesregierung klarere Zusagen und einen verbindlichen Zeitplan. Auch die "
    "steigenden Strompreise belasten viele Haushalte, besonders Rentner mit kleinem "
    "Einkommen. Eine Entlastung über die Netzentgelte wäre aus meiner Sicht gerechter als "
    "weitere Einmalzahlungen. Ich lese Ihre Zeitung seit vielen Jahren und schätze die "
    "unterschiedlichen Meinungen, die Sie abdrucken, auch wenn ich ihnen nicht immer "
    "zustimme.",
]


@pytest.fixture(scope="module")
def phase() -> ToxicityPhase:
    return ToxicityPhase(ARTIFACTS_DIR)


def model(language: str) -> ToxicityModel:
    loaded, _card = artifacts.load(ARTIFACTS_DIR, f"toxicity_{language}")
    assert isinstance(loaded, ToxicityModel)
    return loaded


def score(phase: ToxicityPhase, text: str, language: str | None = None) -> tuple[Doc, Builder]:
    doc = Doc(Submission("t1", text, language=language), SiteConfig())
    out = Builder()
    LanguagePhase()(doc, out)
    sentences.build(ARTIFACTS_DIR)(doc, out)
    phase(doc, out)
    return doc, out


def test_scores_are_probabilities() -> None:
    p = model("de").predict_proba(CIVIL_DE + INSULTS_DE)
    assert p.shape == (8,)
    assert np.all((p >= 0) & (p <= 1))


def test_insults_score_higher_than_civil_sentences() -> None:
    p = model("de").predict_proba(CIVIL_DE + INSULTS_DE)
    civil, insults = p[: len(CIVIL_DE)], p[len(CIVIL_DE) :]
    assert insults.min() > civil.max()
    threshold = artifacts.read_card(ARTIFACTS_DIR, "toxicity_de")["default_threshold"]
    assert (insults >= threshold).all()
    assert (civil < threshold).all()


def test_fast_scoring_gives_the_scikit_learn_numbers() -> None:
    texts = CIVIL_DE + INSULTS_DE + ["Naja, das war schon ziemlich daneben von der Stadt."]
    m = model("de")
    assert np.allclose(m.predict_proba(texts), m.predict_proba_reference(texts), atol=1e-6)
    refined = m.predict_proba(texts, refine_above=True)
    assert np.allclose(refined, m.predict_proba_reference(texts, refine_above=True), atol=1e-6)
    # refining above the band changes only the top texts and those above its lower edge
    cheap = m.predict_proba(texts, embeddings=False)
    top = np.argsort(-cheap, kind="stable")[: toxicity.REFINE_TOP]
    kept = (cheap < m.band_[0]) & ~np.isin(np.arange(len(texts)), top)
    assert kept.any() and np.array_equal(refined[kept], cheap[kept])
    assert not np.allclose(refined[top], cheap[top])


def test_english_nb_view_is_scored_with_the_scikit_learn_numbers() -> None:
    en = model("en")
    texts = CIVIL_EN + INSULTS_EN + ["Shut up, you stupid clown.", "The council meets Tuesday."]
    assert en.nb_coef_ is not None and en._fast().nb_intercept is not None
    assert np.allclose(en.predict_proba(texts), en.predict_proba_reference(texts), atol=1e-6)
    # the fast path's NB logit is the tf-idf rows times the folded weights, plus intercept
    x = en._ngram_matrix([normalize(t) for t in texts])
    expected = np.asarray(x @ en.nb_coef_).ravel() + en.nb_intercept_
    for text, want in zip(texts, expected, strict=True):
        _, word_parts, char_parts = en._fast().ngram_logit(normalize(text))
        assert en._fast().nb_intercept + word_parts.second + char_parts.second == pytest.approx(
            want, abs=1e-9
        )
    # the German model has no NB view and still scores through the same code
    de = model("de")
    assert getattr(de, "nb_coef_", None) is None and de._fast().nb_intercept is None


def test_long_civil_text_with_one_insult_is_flagged_at_the_insult(phase: ToxicityPhase) -> None:
    civil = " ".join(CIVIL_DE * 6)
    insult = "Der Bürgermeister ist ein erbärmlicher Vollidiot."
    text = f"{civil} {insult} {civil}"
    _doc, out = score(phase, text)
    assert out.scores["toxicity"] >= out.default_thresholds["toxicity"]
    at = text.index(insult)
    word_spans = [s for s in out.spans if s.reason == "toxic wording (model)"]
    assert word_spans
    assert all(at <= s.start < s.end <= at + len(insult) for s in word_spans)
    assert "Vollidiot" in {text[s.start : s.end] for s in word_spans}
    # a word is named only when the model calls it toxic on its own too
    alone = model("de").predict_proba([text[s.start : s.end] for s in word_spans], embeddings=False)
    assert (alone >= out.default_thresholds["toxicity"]).all()

    _doc, civil_out = score(phase, f"{civil} {civil}")
    assert civil_out.scores["toxicity"] < civil_out.default_thresholds["toxicity"]
    assert civil_out.spans == []


def test_english_is_scored_by_the_english_model(phase: ToxicityPhase) -> None:
    for text in INSULTS_EN:
        _doc, out = score(phase, text)
        assert out.versions["toxicity"].startswith("toxicity_en")
        assert out.scores["toxicity"] >= out.default_thresholds["toxicity"]
    for text in CIVIL_EN:
        _doc, out = score(phase, text)
        assert out.scores["toxicity"] < out.default_thresholds["toxicity"]


def test_unsupported_language_is_not_scored(phase: ToxicityPhase) -> None:
    doc, out = score(phase, "Tu es un pauvre imbécile, ferme ta gueule, espèce de connard.")
    assert doc.language == "fr"
    assert out.scores["toxicity"] == 0.0
    assert not [s for s in out.spans if s.signal == "toxicity"]
    assert "language fr is not supported: not scored" in out.notes


def test_site_threshold_decides_which_windows_are_explained(phase: ToxicityPhase) -> None:
    doc = Doc(Submission("t2", INSULTS_DE[0]), SiteConfig(thresholds={"toxicity": 1.0}))
    out = Builder()
    LanguagePhase()(doc, out)
    phase(doc, out)
    assert out.scores["toxicity"] > 0.5
    assert out.spans == []


def test_a_card_from_another_scikit_learn_is_refused(tmp_path: Path) -> None:
    shutil.copytree(ARTIFACTS_DIR / "toxicity_de", tmp_path / "toxicity_de")
    card_path = tmp_path / "toxicity_de" / "card.json"
    card = json.loads(card_path.read_text())
    card["libraries"]["scikit-learn"] = "0.24.2"
    card_path.write_text(json.dumps(card))
    with pytest.raises(ArtifactError, match=r"scikit-learn 0\.24\.2"):
        artifacts.load(tmp_path, "toxicity_de")


def test_windows_keep_whole_sentences_and_cover_long_texts() -> None:
    assert windows("kurz", []) == [(0, 4)]
    assert windows("   ", []) == []
    text = " ".join(f"Satz Nummer {i} ist ein ganz normaler Satz." for i in range(40))
    bounds = sentences.split(text)
    parts = windows(text, bounds)
    assert len(parts) > 1
    starts = {s for s, _ in bounds}
    ends = {e for _, e in bounds}
    assert all(s in starts and e in ends for s, e in parts)
    assert parts[0][0] == bounds[0][0] and parts[-1][1] == bounds[-1][1]


@pytest.mark.parametrize("letter", CIVIL_LETTERS_DE, ids=lambda t: t[:24])
def test_civil_long_letters_are_not_flagged(phase: ToxicityPhase, letter: str) -> None:
    assert len(letter) > 1000  # scored per window of sentences
    _doc, out = score(phase, letter)
    assert out.scores["toxicity"] < out.default_thresholds["toxicity"]
    assert not [s for s in out.spans if s.signal == "toxicity"]


def test_civil_letter_with_one_insult_is_flagged_at_the_insult(phase: ToxicityPhase) -> None:
    letter = CIVIL_LETTERS_DE[0]
    cut = letter.index(". ", len(letter) // 2) + 2
    text = f"{letter[:cut]}Der Bürgermeister ist ein erbärmlicher Vollidiot. {letter[cut:]}"
    _doc, out = score(phase, text)
    assert out.scores["toxicity"] >= out.default_thresholds["toxicity"]
    words = {text[s.start : s.end] for s in out.spans if s.reason == "toxic wording (model)"}
    assert "Vollidiot" in words


def test_tweet_artefacts_are_blanked_and_offsets_kept() -> None:
    text = "RT @user_1 Schau hier http://t.co/x |LBR| #Stadtrat &amp; www.example.org URL"
    clean = normalize(text)
    assert len(clean) == len(text)
    assert clean.split() == ["Schau", "hier", "Stadtrat"]
    assert normalize("Ein ganz normaler Satz, ohne Besonderheiten.") == (
        "Ein ganz normaler Satz, ohne Besonderheiten."
    )
    m = model("de")
    # who is addressed does not change the score; the words' offsets point into the text
    a, b = m.predict_proba(["@anna Du Vollidiot!", "@bert Du Vollidiot!"])
    assert a == b
    text = "@anna_meier http://x.y Du Vollidiot!"
    start, end, _weight = m.contributions(text)[0]
    assert text[start:end] == "Vollidiot"


def test_single_word_probabilities_are_the_cheap_model_s() -> None:
    m = model("de")
    words = ["Vollidiot", "Brücke", "Vollidiot", "Arschloch"]
    expected = m.predict_proba(words, embeddings=False)
    assert np.allclose(m.alone_probability(words), expected, atol=1e-12)
    assert np.allclose(m.alone_probability(words), expected, atol=1e-12)  # from the cache


def test_contributions_are_each_word_s_unigram_and_character_n_gram_shares() -> None:
    m = model("de")
    text = "Du bist ein erbärmlicher Vollidiot, du Vollidiot! Die Brücke ist schön. x"
    word, char = m.word_.transform([text]), m.char_.transform([text])
    coef = m.ngram_lr_.coef_[0]
    word_coef, char_coef = coef[: word.shape[1]], coef[word.shape[1] :]
    low, high = m.char_.ngram_range

    def share(token: str) -> float:
        index = m.word_.vocabulary_.get(token)
        total = word[0, index] * word_coef[index] if index is not None else 0.0
        padded = f" {token} "
        grams = {
            padded[i : i + n] for n in range(low, high + 1) for i in range(len(padded) - n + 1)
        }
        for gram in grams:
            index = m.char_.vocabulary_.get(gram)
            if index is not None:
                total += char[0, index] * char_coef[index]
        return float(total)

    found = m.contributions(text)
    assert [text[s:e] for s, e, _ in found] == sorted(
        (w.group() for w in toxicity._TOKEN.finditer(text)),
        key=lambda w: -share(w.lower()),
    )
    for start, end, value in found:
        assert value == pytest.approx(share(text[start:end].lower()), abs=1e-9)
    assert m.contributions(text, top=2) == found[:2]
    assert m.contributions("  ...  ") == []


def test_letters_and_capitals_are_counted_as_python_counts_them() -> None:
    for text in ["", "Straße ÄRGER!", "İstanbul ǅ ⅷ", "Ab😀C D", "\ud800x", "ß ẞ ﬁ"]:
        expected = (sum(map(str.isalpha, text)), sum(map(str.isupper, text)))
        assert toxicity._letters_and_capitals(text) == expected

import pytest

from service.scoring.types import PolicyLimits
from service.storage.site_config import SiteConfigError, parse_site_config, site_config_for


def test_defaults_when_empty() -> None:
    config = parse_site_config({})
    assert config.policy == PolicyLimits() and config.lexicon == () and config.thresholds == {}


def test_stored_settings_become_a_site_config() -> None:
    config = parse_site_config(
        {
            "thresholds": {"toxicity": 0.7},
            "policy": {"max_links": 0, "require_place_for_letters": False},
            "lexicon": [{"term": " Schmierfink ", "category": "insult", "weight": 0.5}],
        }
    )
    assert config.threshold("toxicity") == 0.7 and config.threshold("policy") == 0.5
    assert config.policy.max_links == 0 and not config.policy.require_place_for_letters
    assert config.lexicon[0].term == "Schmierfink" and config.lexicon[0].weight == 0.5


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"thresholds": {"toxicity": 2}}, "thresholds.toxicity"),
        ({"thresholds": {"toxicity": "high"}}, "thresholds.toxicity"),
        ({"policy": {"max_links": -1}}, "policy.max_links"),
        ({"policy": {"require_name_for_letters": "yes"}}, "policy.require_name_for_letters"),
        ({"lexicon": [{"term": ""}]}, r"lexicon\[0\].term"),
        ({"lexicon": [{"term": "x", "signal": "policy"}]}, r"lexicon\[0\].signal"),
    ],
)
def test_bad_settings_name_the_field(data: dict[str, object], field: str) -> None:
    with pytest.raises(SiteConfigError, match=field):
        parse_site_config(data)


def test_site_config_for_parses_again_only_when_the_settings_change() -> None:
    settings: dict[str, object] = {"thresholds": {"toxicity": 0.7}}
    first = site_config_for("site-a", settings)
    assert first.threshold("toxicity") == 0.7
    assert site_config_for("site-a", {"thresholds": {"toxicity": 0.7}}) is first  # not parsed
    settings["thresholds"] = {"toxicity": 0.4}  # a caller's later change is not the cache's
    changed = site_config_for("site-a", settings)
    assert changed is not first and changed.threshold("toxicity") == 0.4
    assert site_config_for("site-b", {}).threshold("toxicity") != 0.4  # per site
    with pytest.raises(SiteConfigError, match=r"thresholds\.toxicity"):
        site_config_for("site-a", {"thresholds": {"toxicity": 2}})
    with pytest.raises(SiteConfigError):  # bad settings are never cached
        site_config_for("site-a", {"thresholds": {"toxicity": 2}})
    assert site_config_for("site-a", settings) is changed

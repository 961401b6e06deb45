"""Row-level scope: which deals a grant lets a person see, and the snapshot cut down to them."""
from __future__ import annotations

from conftest import snapshot_of

from insights.synthetic import demo_spec

from bot.core.grammar import Vocabulary
from bot.core.scope import Scope, dimension_of, outside_scope

DEMO = snapshot_of(demo_spec(n_deals=3_000, seed=5))


def test_dimension_names_and_aliases():
    assert [dimension_of(n) for n in ("region", "Product", "source", "rep", "lead-source", "colour")] == [
        "region", "product_type", "lead_source", "sales_rep_id", "lead_source", None]


def test_grants_are_order_insensitive_and_an_empty_grant_restricts_nothing():
    a = Scope.of([{"region": ["Europe", "APAC"]}, {"product_type": ["Core"]}])
    b = Scope.of([{"product_type": ["Core"]}, {"region": ["APAC", "Europe"]}])
    assert a == b and hash(a) == hash(b)
    assert Scope.of([{"region": ["APAC"]}, {}]).unrestricted
    assert Scope.nothing().empty and not Scope.everything().empty
    assert a.describe() == "Core; APAC or Europe"  # grants sorted by dimension name


def test_restrict_keeps_exactly_the_deals_any_grant_matches():
    deals = DEMO.deals
    scope = Scope.of([{"region": ["APAC"], "product_type": ["Enterprise"]}, {"region": ["India"]}])
    cut = scope.restrict(DEMO)
    expected = ((deals.region == "APAC") & (deals.product_type == "Enterprise")) | (deals.region == "India")
    assert len(cut.deals) == int(expected.sum()) > 0
    assert set(map(str, cut.deals.region.unique())) == {"APAC", "India"}
    assert cut.report.closed_deals == len(cut.deals) and cut.report.open_deals == len(cut.open_deals)
    assert Scope.everything().restrict(DEMO) is DEMO
    assert len(Scope.nothing().restrict(DEMO).deals) == 0


def test_a_dimension_every_grant_limits_lists_only_the_allowed_values():
    cut = Scope.of([{"region": ["APAC"]}, {"region": ["India"], "product_type": ["Core"]}]).restrict(DEMO)
    assert list(cut.deals.region.cat.categories) == ["APAC", "India"]  # Europe is not even a name here
    assert len(cut.deals.product_type.cat.categories) == len(DEMO.deals.product_type.cat.categories)


def test_a_segment_outside_the_scope_is_named_exactly_never_guessed_from_words():
    everything = Vocabulary.from_snapshot(DEMO)
    visible = Vocabulary.from_snapshot(Scope.of([{"region": ["APAC"]}]).restrict(DEMO))
    assert outside_scope("/winrate Europe", everything, visible) == ["Europe"]
    assert outside_scope("/winrate north america by product", everything, visible) == ["North America"]
    assert outside_scope("/winrate APAC", everything, visible) == []
    assert outside_scope("how is europe-ish stuff going", everything, visible) == []


def test_two_scopes_intersect_grant_by_grant():
    apac = Scope.of([{"region": ["APAC"]}])
    apac_or_europe = Scope.of([{"region": ["APAC", "Europe"]}])
    enterprise = Scope.of([{"product_type": ["Enterprise"]}])
    assert apac.intersect(apac_or_europe) == apac
    assert apac.intersect(Scope.everything()) == apac and Scope.everything().intersect(apac) == apac
    assert apac.intersect(Scope.of([{"region": ["Europe"]}])).empty  # no region in common
    assert apac.intersect(Scope.nothing()).empty and Scope.nothing().intersect(Scope.everything()).empty
    assert apac.intersect(enterprise) == Scope.of([{"region": ["APAC"], "product_type": ["Enterprise"]}])
    either = Scope.of([{"region": ["APAC"]}, {"industry": ["FinTech"]}])  # APAC deals, or FinTech deals
    assert either.intersect(Scope.of([{"region": ["Europe"]}])) == \
        Scope.of([{"region": ["Europe"], "industry": ["FinTech"]}])  # only Europe's FinTech deals are in both

"""The one access decision: who may see which deals and reps, where the answer will be read."""
from __future__ import annotations

import pytest

from bot.config import Settings
from bot.core.access import Audience, Policy, SegmentAccessError, SegmentMap
from bot.core.scope import Scope

MANAGERS = Policy(managers=frozenset({"U0MGR"}), manager_channels=frozenset({"C0MGRS"}))


def test_without_reps_users_everyone_sees_reps_everywhere():
    open_policy = Policy(manager_channels=frozenset({"C0MGRS"}))
    for posted in (False, True):
        assert open_policy.asker("U0ANY", "C0SALES", posted=posted).reps
    assert open_policy.channel("C0SALES").reps and open_policy.channel(None).reps


def test_a_manager_sees_reps_alone_and_in_a_managers_channel_but_not_posted_into_a_shared_one():
    private = MANAGERS.asker("U0MGR", "C0SALES")  # an ephemeral slash-command reply: only they read it
    assert private.reps and private.audience is Audience.PRIVATE and not private.shared
    shared = MANAGERS.asker("U0MGR", "C0SALES", posted=True)  # a mention answered in the channel
    assert not shared.reps and shared.reps_alone and shared.audience is Audience.CHANNEL and shared.shared
    assert MANAGERS.asker("U0MGR", "C0MGRS", posted=True).reps
    assert MANAGERS.asker("U0MGR", "D0MGR", posted=True).reps  # a DM is read by them alone
    assert not MANAGERS.asker("U0MGR", "C0SALES").reps_here and MANAGERS.asker("U0MGR", "C0MGRS").reps_here


def test_someone_outside_reps_users_sees_no_reps_anywhere():
    for channel, posted in (("C0SALES", False), ("C0MGRS", True), ("D0REP", True), (None, False)):
        asker = MANAGERS.asker("U0REP", channel, posted=posted)
        assert not asker.reps and not asker.reps_alone


def test_posts_on_nobodys_behalf_name_reps_only_in_a_managers_channel():
    assert not MANAGERS.channel("C0SALES").reps
    assert MANAGERS.channel("C0MGRS").reps
    digest = MANAGERS.channel("C0SALES")
    assert digest.scope.unrestricted and not digest.admin and digest.allowed


def test_the_allow_lists_refuse_with_their_reason_and_dms_are_always_allowed():
    policy = Policy(users=frozenset({"U0CRO"}), channels=frozenset({"C0SALES"}))
    assert policy.asker("U0CRO", "C0SALES").allowed
    assert policy.asker("U0STRANGER", "C0SALES").refusal == "user"
    assert policy.asker("U0STRANGER", "C0SALES").scope.empty  # a refused asker sees nothing
    assert policy.asker("U0CRO", "C0RANDOM").refusal == "channel"
    assert policy.asker("U0CRO", "D0CRO").allowed
    assert policy.asker("U0CRO").allowed  # the Home tab, the console: no channel


def test_admins_are_every_allowed_user_unless_named():
    assert Policy().asker("U0ANY").admin
    named = Policy(admins=frozenset({"U0CRO"}))
    assert named.asker("U0CRO").admin and not named.asker("U0REP").admin
    assert not Policy(users=frozenset({"U0CRO"})).is_admin("U0STRANGER")


def test_the_segment_map_gives_scopes_and_fails_closed_on_unknown_groups():
    segments = SegmentMap.from_dict({"admins": ["U0CRO"], "others": "none",
                                     "users": {"U0VP": {"region": ["APAC"]}},
                                     "groups": {"S0EMEA": {"region": ["Europe"]}}})
    known = Policy(segments=segments, members=lambda group: frozenset({"U0EMEA"}))
    assert known.asker("U0VP").scope == Scope.of([{"region": ["APAC"]}])
    assert known.asker("U0EMEA").scope == Scope.of([{"region": ["Europe"]}])
    assert known.asker("U0CRO").scope.unrestricted
    assert known.asker("U0NOBODY").scope.empty  # others = "none"
    unknown = Policy(segments=SegmentMap.from_dict({"groups": {"S0EMEA": {"region": ["Europe"]}}}),
                     members=lambda group: None)
    assert unknown.asker("U0ANYONE").scope.empty  # might be in the group: nothing rather than everything
    with pytest.raises(SegmentAccessError, match="not a dimension"):
        SegmentMap.from_dict({"users": {"U1": {"planet": ["Mars"]}}})


def test_the_policy_is_read_from_the_settings(tmp_path):
    access = tmp_path / "access.toml"
    access.write_text('[users.U0VP]\nregion = ["APAC"]\n')
    policy = Policy.from_settings(Settings.from_env({
        "ALLOWED_USERS": "U0MGR,U0VP", "REPS_USERS": "U0MGR", "ADMIN_USERS": "U0MGR",
        "MANAGER_CHANNELS": "C0MGRS, C0LEADS", "SEGMENT_ACCESS": str(access)}))
    assert policy.manager_channels == {"C0MGRS", "C0LEADS"} and policy.managers == {"U0MGR"}
    assert policy.asker("U0VP").scope == Scope.of([{"region": ["APAC"]}]) and not policy.asker("U0VP").reps
    assert policy.channel("C0LEADS").reps and not policy.channel("C0SALES").reps


CHANNELS = SegmentMap.from_dict({"admins": ["U0CRO"], "others": "none",
                                 "users": {"U0VPAPAC": {"region": ["APAC", "India"]}, "U0VPIN": {"region": ["India"]},
                                           "U0VPEU": {"region": ["Europe"]}},
                                 "channels": {"C0LEADERS": "all", "C0APACDESK": {"region": ["APAC"]}}})
READERS = {"C0INDIA": {"U0CRO", "U0VPAPAC", "U0VPIN"}, "C0MIXED": {"U0CRO", "U0VPAPAC", "U0VPEU"},
           "C0LEADERS": {"U0VPEU"}, "C0APACDESK": {"U0VPIN"}}
SEGMENTED = Policy(segments=CHANNELS, readers=lambda channel: READERS.get(channel))


def test_a_post_into_a_channel_shows_only_what_every_member_there_may_see():
    india = Scope.of([{"region": ["India"]}])
    vp = SEGMENTED.asker("U0VPAPAC", "C0INDIA", posted=True)  # a mention: the channel reads it
    assert vp.scope == india and vp.for_channel and vp.deals_here
    alone = SEGMENTED.asker("U0VPAPAC", "C0INDIA")  # the slash command's reply only they read
    assert alone.scope == Scope.of([{"region": ["APAC", "India"]}]) and not alone.for_channel and alone.deals_here
    assert SEGMENTED.asker("U0CRO", "C0INDIA", posted=True).scope == india  # even the CRO's post
    mixed = SEGMENTED.asker("U0VPAPAC", "C0MIXED", posted=True)
    assert mixed.scope.empty and mixed.allowed and not mixed.deals_here  # APAC/India and Europe share nothing
    assert not SEGMENTED.asker("U0VPAPAC", "C0MIXED").deals_here  # so a follow "here" would show nothing
    assert SEGMENTED.asker("U0VPAPAC", "D0VPAPAC", posted=True).scope == alone.scope  # a DM is theirs alone


def test_an_admins_channel_entry_wins_and_unknown_members_show_nothing():
    assert SEGMENTED.channel("C0LEADERS").scope.unrestricted  # "all", whoever is in it
    assert SEGMENTED.channel("C0APACDESK").scope == Scope.of([{"region": ["APAC"]}])
    assert SEGMENTED.channel("C0INDIA").scope == Scope.of([{"region": ["India"]}])
    assert SEGMENTED.channel("C0NOBODYKNOWS").scope.empty  # members unknown: nothing rather than all
    assert Policy(segments=CHANNELS).channel("C0INDIA").scope.empty  # no way to list members
    assert Policy().channel("C0ANY").scope.unrestricted and not Policy().channel("C0ANY").for_channel
    assert SEGMENTED.asker("U0VPIN", "C0APACDESK", posted=True).scope.empty  # India VP in an APAC desk

"""Matchmaking: PFSP, AlphaStar's role rules, plans and the mapping that reads them (pure, no Ray)."""

from __future__ import annotations

import re
from collections import Counter
from types import SimpleNamespace

import pytest

from league.config import load_config
from league.errors import ConfigError, LeagueError
from league.ledger.base import PairCounts
from league.matchmaking import (
    AlphaStarMatchmaker,
    LeagueView,
    LearnerPlan,
    Matchmaker,
    MatchPlan,
    NashMatchmaker,
    PlayerView,
    load_matchmaker,
    make_plan,
    pfsp_weights,
    win_rate,
)
from league.rllib.mapping import MatchMapping, mirror_id
from league.types import PfspWeighting, PlayerId, Role

P = PlayerId
MAIN, EXPL, LEXP = P("main"), P("main_exploiter"), P("league_exploiter")
V1, V2, RANDOM = P("main_v1"), P("main_v2"), P("random")


def view(results=None, players=None, prior=0.0) -> LeagueView:
    players = players or (
        PlayerView(MAIN, Role.MAIN), PlayerView(EXPL, Role.MAIN_EXPLOITER),
        PlayerView(LEXP, Role.LEAGUE_EXPLOITER), PlayerView(RANDOM, Role.SCRIPTED),
        PlayerView(V1, Role.SNAPSHOT, parent=MAIN), PlayerView(V2, Role.SNAPSHOT, parent=MAIN),
    )
    return LeagueView(5, tuple(players), results or {}, {}, prior)


def rules(**matchmaking):
    return AlphaStarMatchmaker(load_config(None, {"matchmaking": matchmaking}).matchmaking)


# -- PFSP -------------------------------------------------------------------------------


@pytest.mark.parametrize("weighting, expected", [
    # win rates 0.2, 0.5, 0.9 -> raw weights, normalised
    (PfspWeighting.HARD, [0.64 / 0.9, 0.25 / 0.9, 0.01 / 0.9]),        # (1-x)^2
    (PfspWeighting.VARIANCE, [0.16 / 0.5, 0.25 / 0.5, 0.09 / 0.5]),    # x(1-x)
    (PfspWeighting.LINEAR, [0.8 / 1.4, 0.5 / 1.4, 0.1 / 1.4]),         # 1-x
    (PfspWeighting.UNIFORM, [1 / 3, 1 / 3, 1 / 3]),
])
def test_pfsp_weightings_match_hand_computed_values(weighting, expected):
    assert pfsp_weights([0.2, 0.5, 0.9], weighting).tolist() == pytest.approx(expected)


def test_hard_pfsp_exponent_and_all_zero_fallback():
    assert pfsp_weights([0.0, 0.5], PfspWeighting.HARD, exponent=1.0).tolist() == pytest.approx([2 / 3, 1 / 3])
    assert pfsp_weights([1.0, 1.0], PfspWeighting.HARD).tolist() == [0.5, 0.5]


def test_win_rate_prior_makes_unplayed_pairs_even():
    assert win_rate(PairCounts(), prior_games=2.0) == 0.5
    assert win_rate(PairCounts(wins=3, draws=2, losses=1), prior_games=0.0) == pytest.approx(4 / 6)
    assert win_rate(PairCounts(wins=4), prior_games=4.0) == pytest.approx(6 / 8)


# -- role rules -------------------------------------------------------------------------


def test_main_mixes_self_play_pfsp_and_exploiters_with_forgotten_snapshots():
    # main beats random 90%, main_v1 80%, main_v2 only 20% (forgotten: < 0.3).
    results = {(MAIN, RANDOM): PairCounts(wins=9, losses=1), (MAIN, V1): PairCounts(wins=8, losses=2),
               (MAIN, V2): PairCounts(wins=2, losses=8)}
    got = rules().opponents(view(results).player(MAIN), view(results))
    # PFSP hard over frozen (random .1^2=.01, v1 .2^2=.04, v2 .8^2=.64; total .69) gets 0.5;
    # 0.15 goes uniformly to {main_exploiter, main_v2}; 0.35 to self-play.
    assert got == pytest.approx({
        MAIN: 0.35,
        RANDOM: 0.5 * 0.01 / 0.69, V1: 0.5 * 0.04 / 0.69, V2: 0.5 * 0.64 / 0.69 + 0.075,
        EXPL: 0.075,
    })


def test_main_scripted_share_is_pfsp_over_the_scripted_players_alone():
    heuristic = P("heuristic")
    players = (*view().players, PlayerView(heuristic, Role.SCRIPTED))
    # main beats random 90%, heuristic 40%, main_v1 80%, main_v2 50% (none forgotten at < 0.3).
    results = {(MAIN, RANDOM): PairCounts(wins=9, losses=1), (MAIN, heuristic): PairCounts(wins=4, losses=6),
               (MAIN, V1): PairCounts(wins=8, losses=2), (MAIN, V2): PairCounts(wins=5, losses=5)}
    league = view(results, players)
    mm = rules(main={"self_play": 0.3, "pfsp": 0.4, "exploiters_and_forgotten": 0.15, "scripted": 0.15})
    got = mm.opponents(league.player(MAIN), league)
    # PFSP hard over frozen: random .01, heuristic .36, v1 .04, v2 .25 (total .66), share 0.4;
    # scripted: random .01, heuristic .36 (total .37), share 0.15; exploiters 0.15 (no forgotten).
    assert got == pytest.approx({
        MAIN: 0.3, EXPL: 0.15,
        RANDOM: 0.4 * 0.01 / 0.66 + 0.15 * 0.01 / 0.37, heuristic: 0.4 * 0.36 / 0.66 + 0.15 * 0.36 / 0.37,
        V1: 0.4 * 0.04 / 0.66, V2: 0.4 * 0.25 / 0.66,
    })
    # Off by default (AlphaStar's rules): the same league without the share.
    assert rules().opponents(league.player(MAIN), league)[heuristic] == pytest.approx(0.5 * 0.36 / 0.66)


def test_main_without_frozen_players_gives_their_share_to_the_rest():
    players = (PlayerView(MAIN, Role.MAIN), PlayerView(EXPL, Role.MAIN_EXPLOITER))
    league = view(players=players)
    assert rules().opponents(players[0], league) == pytest.approx({MAIN: 0.35 / 0.5, EXPL: 0.15 / 0.5})


def test_main_exploiter_plays_main_until_it_loses_badly_then_pfsp_over_mains_snapshots():
    winning = {(EXPL, MAIN): PairCounts(wins=3, losses=7)}         # 0.3 >= 0.2
    assert rules().opponents(view(winning).player(EXPL), view(winning)) == {MAIN: 1.0}
    losing = {(EXPL, MAIN): PairCounts(wins=1, losses=9),            # 0.1 < 0.2
              (EXPL, V1): PairCounts(wins=5, losses=5), (EXPL, V2): PairCounts(wins=1, losses=9)}
    got = rules().opponents(view(losing).player(EXPL), view(losing))
    # variance x(1-x): v1 .25, v2 .09
    assert got == pytest.approx({V1: 0.25 / 0.34, V2: 0.09 / 0.34})


def test_league_exploiter_runs_linear_pfsp_over_every_frozen_player():
    results = {(LEXP, RANDOM): PairCounts(wins=10), (LEXP, V1): PairCounts(wins=5, losses=5)}
    got = rules().opponents(view(results).player(LEXP), view(results))
    # linear 1-x: random 0, v1 .5, v2 (unplayed, no prior) .5
    assert got == pytest.approx({RANDOM: 0.0, V1: 0.5, V2: 0.5})


def test_role_rules_come_from_config():
    results = {(MAIN, RANDOM): PairCounts(wins=5, losses=5)}
    mm = rules(main={"self_play": 1.0, "pfsp": 0.0, "exploiters_and_forgotten": 0.0})
    assert mm.opponents(view(results).player(MAIN), view(results)) == {MAIN: 1.0}
    strict = {(EXPL, MAIN): PairCounts(wins=3, losses=7)}
    mm = rules(main_exploiter={"min_win_rate_vs_main": 0.5})
    assert set(mm.opponents(view(strict).player(EXPL), view(strict))) == {V1, V2}


# -- plans, seats and the mapping ----------------------------------------------------------


def test_plan_normalises_weights_and_shares_and_rejects_unknown_players():
    class Fixed(Matchmaker):
        def opponents(self, learner, league):
            return {RANDOM: 3.0, V1: 1.0, V2: 0.0}

    players = (PlayerView(MAIN, Role.MAIN), PlayerView(RANDOM, Role.SCRIPTED), PlayerView(V1, Role.SNAPSHOT),
               PlayerView(V2, Role.SNAPSHOT))
    plan = make_plan(Fixed(), view(players=players), num_seats=2, seed=0)
    assert plan.for_learner(MAIN) == LearnerPlan(MAIN, ((RANDOM,), (V1,)), (0.75, 0.25))

    class Unknown(Matchmaker):
        def opponents(self, learner, league):
            return {P("nobody"): 1.0}

    with pytest.raises(LeagueError, match=re.escape("Unknown chose unknown players ['nobody'] for 'main'")):
        make_plan(Unknown(), view(players=players), num_seats=2, seed=0)


def _plan(seed=0, iteration=1):
    return MatchPlan(
        (LearnerPlan(MAIN, ((MAIN,), (V1,)), (0.5, 0.5)), LearnerPlan(EXPL, ((MAIN,),), (1.0,))),
        (0.75, 0.25), seed, iteration,
    )


def test_decisions_are_reproducible_from_the_seed():
    first = [_plan(7).decide(1, k, 2) for k in range(200)]
    assert first == [_plan(7).decide(1, k, 2) for k in range(200)]
    assert first != [_plan(8).decide(1, k, 2) for k in range(200)]


def test_learners_and_opponents_follow_the_plan_and_seats_alternate():
    plan = _plan()
    matches = [plan.decide(0, k, 2) for k in range(8000)]
    learners = Counter(m.learner for m in matches)
    assert abs(learners[MAIN] / 8000 - 0.75) < 0.02
    main_matches = [(k, m) for k, m in enumerate(matches) if m.learner == MAIN]
    assert all(m.seats[k % 2] == MAIN for k, m in main_matches)
    vs_v1 = sum(V1 in m.seats for _, m in main_matches) / len(main_matches)
    assert abs(vs_v1 - 0.5) < 0.03
    assert Counter(m.seats.index(EXPL) for m in matches if m.learner == EXPL) == pytest.approx(
        {0: learners[EXPL] / 2, 1: learners[EXPL] / 2}, rel=0.1)


def test_plan_rejects_bad_probabilities():
    with pytest.raises(ValueError, match="sum to 1"):
        LearnerPlan(MAIN, ((MAIN,),), (0.5,))


def test_mapping_decides_the_whole_match_once_and_maps_other_trainable_players_to_mirrors():
    plan = _plan()
    mapping = MatchMapping(plan, ["player_0", "player_1"], {MAIN, EXPL})
    worker = SimpleNamespace(worker_index=1)
    for episode_id in range(200):
        episode = SimpleNamespace(episode_id=1000 + episode_id)
        # Ask for the second seat first, then the first, then again: one decision.
        second = mapping("player_1", episode, worker)
        first = mapping("player_0", episode, worker)
        assert mapping("player_1", episode, worker) == second
        match = plan.decide(1, episode_id, 2)
        if match.learner == EXPL:
            # The exploiter chose this match: main plays through its mirror and does not learn.
            assert (first, second) in ((EXPL, mirror_id(MAIN)), (mirror_id(MAIN), EXPL))
        else:
            assert (first, second) == match.seats  # main vs itself or a frozen snapshot: no mirror


# -- custom matchmakers --------------------------------------------------------------------


def test_matchmaker_is_loaded_by_import_path_and_bad_paths_are_config_errors():
    assert isinstance(load_matchmaker(None, None), AlphaStarMatchmaker)
    loaded = load_matchmaker("examples.newest_snapshot_matchmaker:NewestSnapshotMatchmaker", None)
    assert isinstance(loaded, Matchmaker)
    with pytest.raises(ConfigError, match="cannot import module 'no_such_module'"):
        load_matchmaker("no_such_module:X", None)
    with pytest.raises(ConfigError, match=re.escape("is not a subclass of league.Matchmaker")):
        load_matchmaker("league.config:LeagueConfig", None)
    with pytest.raises(ConfigError, match=re.escape("matchmaking.matchmaker: expected an import path")):
        load_config(None, {"matchmaking": {"matchmaker": "not a path"}})


def test_a_custom_matchmaker_import_lets_no_file_in_the_current_folder_shadow_an_installed_module(
        tmp_path, monkeypatch):
    import sys

    installed, cwd = tmp_path / "site", tmp_path / "work"
    installed.mkdir()
    cwd.mkdir()
    (installed / "league_shadow_probe.py").write_text("WHERE = 'installed'\n")
    (cwd / "league_shadow_probe.py").write_text("WHERE = 'current folder'\n")
    (cwd / "my_matchmaker.py").write_text(
        "from league import Matchmaker\n\n"
        "class Mine(Matchmaker):\n"
        "    def opponents(self, learner, league):\n"
        "        return {learner.player_id: 1.0}\n")
    monkeypatch.syspath_prepend(str(installed))  # restores sys.path afterwards
    monkeypatch.chdir(cwd)
    try:
        loaded = load_matchmaker("my_matchmaker:Mine", None)
        assert type(loaded).__name__ == "Mine"  # the current folder is still importable...
        import league_shadow_probe

        assert league_shadow_probe.WHERE == "installed"  # ...but after everything installed, not first
        assert sys.path.index(str(cwd)) > sys.path.index(str(installed))
    finally:
        for name in ("league_shadow_probe", "my_matchmaker"):
            sys.modules.pop(name, None)


def test_self_play_can_train_only_the_learners_own_seat():
    plan = MatchPlan((LearnerPlan(MAIN, ((MAIN,),), (1.0,)),), (1.0,), 0, 1)
    both = MatchMapping(plan, ["player_0", "player_1"], {MAIN})
    one = MatchMapping(plan, ["player_0", "player_1"], {MAIN}, self_play_learns_both_seats=False)
    worker = SimpleNamespace(worker_index=0)
    for episode_id in range(4):
        episode = SimpleNamespace(episode_id=episode_id)
        assert [both(a, episode, worker) for a in ("player_0", "player_1")] == [MAIN, MAIN]
        seats = [one(a, episode, worker) for a in ("player_0", "player_1")]
        learner_seat = episode_id % 2
        assert seats[learner_seat] == MAIN and seats[1 - learner_seat] == mirror_id(MAIN)


def test_nash_matchmaker_plays_the_meta_game_nash_of_the_snapshots_present():
    players = (PlayerView(PlayerId("main"), Role.MAIN), PlayerView(PlayerId("main_v1"), Role.SNAPSHOT),
               PlayerView(PlayerId("main_v2"), Role.SNAPSHOT))
    league = LeagueView(3, players, meta_nash={PlayerId("main_v1"): 0.25, PlayerId("main_v2"): 0.75,
                                               PlayerId("pruned_v9"): 0.5})
    assert NashMatchmaker().opponents(players[0], league) == {"main_v1": 0.25, "main_v2": 0.75}
    assert NashMatchmaker().opponents(players[0], LeagueView(1, players)) == {"main": 1.0}  # not measured yet
    plan = make_plan(NashMatchmaker(), league, num_seats=2, seed=0)
    assert dict(zip(plan.learners[0].lineups, plan.learners[0].probabilities, strict=True)) == pytest.approx(
        {("main_v1",): 0.25, ("main_v2",): 0.75})


def test_a_matchmaker_module_that_raises_on_import_is_a_config_error(tmp_path, monkeypatch):
    import sys

    (tmp_path / "raising_mm.py").write_text("raise RuntimeError('boom at import')\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    with pytest.raises(ConfigError, match=re.escape("importing 'raising_mm' raised RuntimeError: boom at import")):
        load_matchmaker("raising_mm:Anything", None)


def test_match_plan_decisions_equal_generator_choice_over_the_shares_and_line_ups():
    """decide() builds its cumulative distributions once; its draws must stay Generator.choice's."""
    import numpy as np

    from league.matchmaking import LearnerPlan, MatchPlan

    plans = (LearnerPlan(PlayerId("main"), (("a",), ("b",), ("main",)), (0.2, 0.5, 0.3)),
             LearnerPlan(PlayerId("exploiter"), (("main",), ("a",)), (0.7, 0.3)))
    plan = MatchPlan(plans, (0.6, 0.4), seed=7, iteration=3)
    for worker in (0, 2):
        for episode in range(300):
            rng = np.random.default_rng([7, 3, worker, episode])
            learner = plans[int(rng.choice(2, p=(0.6, 0.4)))]
            lineup = learner.lineups[int(rng.choice(len(learner.lineups), p=learner.probabilities))]
            match = plan.decide(worker, episode, 2)
            seat = episode % 2
            assert match.learner == learner.learner and match.learner_seat == seat
            assert match.seats == (*lineup[:seat], learner.learner, *lineup[seat:])

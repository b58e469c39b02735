"""The erasure plan: everything filed under a candidate, found through the index only."""

from round0.candidate_index import IndexEntry
from round0_ops.erase import By, plan_for_candidate, plan_for_interview

EMAIL_KEY, ID_KEY, OLD_EMAIL_KEY = "candidate#email:a", "candidate#id:b", "candidate#email:c"
INDEX = {
    EMAIL_KEY: IndexEntry(frozenset({"i-1"}), frozenset({"e-1", "e-2"})),
    ID_KEY: IndexEntry(frozenset({"i-1", "i-2"}), frozenset({"e-1", "e-2", "e-3"})),
    OLD_EMAIL_KEY: IndexEntry(frozenset({"i-2"}), frozenset({"e-3"})),
}
INTERVIEWS = {
    "i-1": ({"e-1", "e-2"}, {EMAIL_KEY, ID_KEY}),
    # an older interview under the candidate's former email, and an event the index
    # missed (the ingest died between the state and the index write)
    "i-2": ({"e-3", "e-4"}, {OLD_EMAIL_KEY, ID_KEY}),
}


def test_a_candidate_is_followed_across_their_emails_and_interviews() -> None:
    plan = plan_for_candidate(By.EMAIL, EMAIL_KEY, INDEX.get, INTERVIEWS.get)
    assert plan.interview_ids == {"i-1", "i-2"}
    assert plan.event_ids == {"e-1", "e-2", "e-3", "e-4"}
    assert plan.delete_keys == {EMAIL_KEY, ID_KEY, OLD_EMAIL_KEY}
    assert plan.forget_keys == set()
    assert plan.subject == EMAIL_KEY


def test_nothing_on_record_is_an_empty_plan() -> None:
    plan = plan_for_candidate(By.CANDIDATE_ID, "candidate#id:zzz", INDEX.get, INTERVIEWS.get)
    assert plan.empty
    assert plan_for_interview("i-9", INTERVIEWS.get).empty


def test_one_interview_is_taken_out_of_the_candidates_entries_not_all_of_them() -> None:
    plan = plan_for_interview("i-2", INTERVIEWS.get)
    assert plan.interview_ids == {"i-2"}
    assert plan.event_ids == {"e-3", "e-4"}
    assert plan.delete_keys == set()
    assert plan.forget_keys == {OLD_EMAIL_KEY, ID_KEY}


def test_a_cycle_of_keys_ends() -> None:
    looping = {
        "k1": IndexEntry(frozenset({"i"}), frozenset({"e"})),
        "k2": IndexEntry(frozenset({"i"}), frozenset({"e"})),
    }
    interviews = {"i": ({"e"}, {"k1", "k2"})}
    plan = plan_for_candidate(By.EMAIL, "k1", looping.get, interviews.get)
    assert plan.delete_keys == {"k1", "k2"}

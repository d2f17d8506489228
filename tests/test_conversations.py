from rk_assist.assistant.conversations import ConversationStore
from rk_assist.runtimes.base import ChatMessage


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def turn(n: int) -> tuple[ChatMessage, ...]:
    return (ChatMessage("user", f"q{n}"), ChatMessage("assistant", f"a{n}"))


def test_turns_are_bounded_and_kept_per_conversation():
    store = ConversationStore(max_turns=2)
    for n in range(3):
        store.add_turn("one", turn(n))
    store.add_turn("two", turn(9))
    assert store.history("one") == [turn(1), turn(2)]
    assert store.history("two") == [turn(9)]
    assert store.history(None) == []
    store.add_turn(None, turn(5))  # no id: nothing to remember it by
    assert len(store) == 2


def test_idle_conversations_expire_like_home_assistant():
    clock = FakeClock()
    store = ConversationStore(idle_seconds=300, clock=clock)
    store.add_turn("old", turn(1))
    clock.now += 200
    store.add_turn("recent", turn(2))
    clock.now += 150  # "old" idle 350 s, "recent" idle 150 s
    assert store.history("old") == []
    assert store.history("recent") == [turn(2)]


def test_number_of_conversations_is_bounded():
    store = ConversationStore(max_conversations=3)
    for n in range(5):
        store.add_turn(f"c{n}", turn(n))
    assert len(store) == 3
    assert store.history("c0") == []
    assert store.history("c4") == [turn(4)]


def test_zero_turns_disables_memory():
    store = ConversationStore(max_turns=0)
    store.add_turn("x", turn(1))
    assert store.history("x") == []

from complaints.handlers import build_handlers


def test_every_bound_event_has_a_handler() -> None:
    assert build_handlers().uncovered("complaints", commands=False) == []

from app.needs.models import NeedState
from tests.factories import need_in_state


def test_need_in_state_reaches_every_state(session):
    for state in NeedState:
        need = need_in_state(state)
        assert need.state is state

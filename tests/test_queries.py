"""The hot pages run a constant number of SQL statements whatever the page size."""

from __future__ import annotations

import pytest

from app.needs.models import NeedState
from tests.factories import FarmHelpFactory, MicroWishFactory, RepairFactory, need_in_state


def _publish(n: int) -> None:
    kinds = [MicroWishFactory, FarmHelpFactory, RepairFactory]
    for i in range(n):
        need_in_state(NeedState.PUBLISHED, kinds[i % 3])


@pytest.mark.parametrize("url", ["/needs?page={p}", "/api/v1/needs?per_page={n}&page={p}", "/"])
def test_constant_queries(client, app, count_queries, url):
    _publish(3)
    app.config["PAGE_SIZE"] = 3
    with count_queries() as few:
        assert client.get(url.format(n=3, p=1)).status_code == 200
    _publish(27)
    app.config["PAGE_SIZE"] = 30
    try:
        with count_queries() as many:
            response = client.get(url.format(n=30, p=1))
    finally:
        app.config["PAGE_SIZE"] = 20
    assert response.status_code == 200
    if response.is_json:
        assert len(response.json["items"]) == 30
    elif url.startswith("/needs"):
        assert response.get_data(as_text=True).count('class="card need-card') == 30
    assert many.count == few.count, many.statements
    assert many.count <= 3

"""Minimum-cost maximum flow, written here so the planner's optimality is ours to prove.

Successive shortest paths: Dijkstra on reduced costs (Johnson potentials) finds a
cheapest augmenting path in the residual network and the flow is pushed along it. Each
augmentation keeps the flow a minimum-cost flow for its value, and the loop ends when
the sink is unreachable, so the result is a maximum flow of minimum cost among all
maximum flows. Capacities and costs are integers, so the arithmetic is exact. Negative
arc costs are allowed (Bellman-Ford sets the first potentials) as long as the network
has no negative cycle.
"""

from __future__ import annotations

import heapq
from collections import deque
from dataclasses import dataclass

_INF = float("inf")
_BIG = 1 << 62  # "not reached yet" for integer distances


@dataclass(frozen=True)
class FlowResult:
    flow: int
    cost: int
    phases: int  # Dijkstra runs, for the benchmark


class NegativeCycle(ValueError):
    """The network has a cycle of negative cost: successive shortest paths do not apply."""


class MinCostFlow:
    """A directed network on nodes ``0 .. n-1``. Each arc ``e`` is stored at index ``e``
    with its residual twin at ``e ^ 1``."""

    def __init__(self, nodes: int) -> None:
        self.nodes = nodes
        self._head: list[int] = []  # arc -> target node
        self._cap: list[int] = []  # residual capacity
        self._cost: list[int] = []
        self._out: list[list[int]] = [[] for _ in range(nodes)]

    def add_node(self) -> int:
        self._out.append([])
        self.nodes += 1
        return self.nodes - 1

    def add_arc(self, tail: int, head: int, capacity: int, cost: int) -> int:
        """Add an arc and return its id (for ``flow_on``)."""
        if capacity < 0:
            raise ValueError("capacity must not be negative")
        arc = len(self._head)
        self._head += [head, tail]
        self._cap += [capacity, 0]
        self._cost += [cost, -cost]
        self._out[tail].append(arc)
        self._out[head].append(arc + 1)
        return arc

    def flow_on(self, arc: int) -> int:
        return self._cap[arc ^ 1]

    def solve(self, source: int, sink: int) -> FlowResult:
        """Push as much flow as possible from ``source`` to ``sink`` at the least cost."""
        if source == sink:
            raise ValueError("source and sink must differ")
        potential = self._initial_potentials(source)
        flow = cost = phases = 0
        cap, arc_cost = self._cap, self._cost
        while True:
            phases += 1
            path = self._shortest_path(source, sink, potential)
            if path is None:
                return FlowResult(flow, cost, phases)
            amount = min(cap[arc] for arc in path)
            for arc in path:
                cap[arc] -= amount
                cap[arc ^ 1] += amount
                cost += amount * arc_cost[arc]
            flow += amount

    # --- internals -----------------------------------------------------------------------

    def _initial_potentials(self, source: int) -> list[int]:
        """Zero when every arc with capacity costs >= 0; Bellman-Ford (SPFA) otherwise."""
        if all(c >= 0 for arc, c in enumerate(self._cost) if self._cap[arc] > 0):
            return [0] * self.nodes
        dist: list[float] = [_INF] * self.nodes
        dist[source] = 0
        queue = deque([source])
        in_queue = [False] * self.nodes
        in_queue[source] = True
        # Arcs on the current shortest path to each node: n or more means a cycle, and
        # a path that keeps getting shorter around a cycle means a negative one.
        arcs_on_path = [0] * self.nodes
        head, cap, cost, out = self._head, self._cap, self._cost, self._out
        while queue:
            node = queue.popleft()
            in_queue[node] = False
            for arc in out[node]:
                if cap[arc] > 0 and dist[node] + cost[arc] < dist[head[arc]]:
                    nxt = head[arc]
                    dist[nxt] = dist[node] + cost[arc]
                    arcs_on_path[nxt] = arcs_on_path[node] + 1
                    if arcs_on_path[nxt] >= self.nodes:
                        raise NegativeCycle("negative-cost cycle in the network")
                    if not in_queue[nxt]:
                        in_queue[nxt] = True
                        queue.append(nxt)
        # Nodes the source cannot reach never carry flow; any finite value will do.
        return [int(d) if d != _INF else 0 for d in dist]

    def _shortest_path(self, source: int, sink: int, potential: list[int]) -> list[int] | None:
        """Dijkstra on reduced costs from ``source``, stopped once ``sink`` is settled;
        returns the arcs of a shortest path, or None when the sink is unreachable.

        Then the potentials rise so that the path's arcs get reduced cost 0: settled nodes
        by their distance, every other node by the sink's. Only differences of potentials
        matter, so rather than adding the sink's distance to every unsettled node we take
        ``dist - target`` off the settled ones, which costs time in proportion to what
        the search touched, not to the size of the network."""
        head, cap, cost, out = self._head, self._cap, self._cost, self._out
        dist = [_BIG] * self.nodes
        dist[source] = 0
        via = [-1] * self.nodes
        done = [False] * self.nodes
        settled: list[int] = []
        heap = [(0, source)]
        target: int | None = None
        pop, push = heapq.heappop, heapq.heappush
        while heap:
            d, node = pop(heap)
            if done[node]:
                continue
            done[node] = True
            settled.append(node)
            if node == sink:
                target = d
                break
            base = d + potential[node]
            for arc in out[node]:
                if cap[arc] > 0:
                    nxt = head[arc]
                    nd = base + cost[arc] - potential[nxt]
                    if nd < dist[nxt] and not done[nxt]:
                        dist[nxt] = nd
                        via[nxt] = arc
                        push(heap, (nd, nxt))
        if target is None:
            return None
        for node in settled:
            potential[node] += dist[node] - target
        path = []
        node = sink
        while node != source:
            arc = via[node]
            path.append(arc)
            node = head[arc ^ 1]
        path.reverse()
        return path

"""Minimum-cost maximum flow, written here so the planner's optimality is ours to prove.

Successive shortest paths in the primal-dual form: Dijkstra on reduced costs (Johnson
potentials) finds the length of the shortest augmenting path, then a blocking flow
(Dinic) on the sub-network of zero-reduced-cost arcs pushes every augmenting path of
that length at once. Each phase keeps the flow a minimum-cost flow for its value, and
the loop ends when the sink is unreachable, so the result is a maximum flow of minimum
cost among all maximum flows. Capacities and costs are integers, so the arithmetic is
exact. Negative arc costs are allowed (Bellman-Ford sets the first potentials) as long
as the network has no negative cycle.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

_INF = float("inf")


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
        while True:
            phases += 1
            reached = self._dijkstra(source, sink, potential)
            if not reached:
                return FlowResult(flow, cost, phases)
            pushed, pushed_cost = self._blocking_flow(source, sink, potential)
            flow += pushed
            cost += pushed_cost

    # --- internals -----------------------------------------------------------------------

    def _initial_potentials(self, source: int) -> list[int]:
        """Zero when every arc with capacity costs >= 0; Bellman-Ford (SPFA) otherwise."""
        if all(c >= 0 for arc, c in enumerate(self._cost) if self._cap[arc] > 0):
            return [0] * self.nodes
        dist: list[float] = [_INF] * self.nodes
        dist[source] = 0
        queue = [source]
        in_queue = [False] * self.nodes
        in_queue[source] = True
        relaxed = [0] * self.nodes
        head, cap, cost, out = self._head, self._cap, self._cost, self._out
        while queue:
            node = queue.pop()
            in_queue[node] = False
            for arc in out[node]:
                if cap[arc] > 0 and dist[node] + cost[arc] < dist[head[arc]]:
                    nxt = head[arc]
                    dist[nxt] = dist[node] + cost[arc]
                    relaxed[nxt] += 1
                    if relaxed[nxt] > self.nodes:
                        raise NegativeCycle("negative-cost cycle in the network")
                    if not in_queue[nxt]:
                        in_queue[nxt] = True
                        queue.append(nxt)
        # Nodes the source cannot reach never carry flow; any finite value will do.
        return [int(d) if d != _INF else 0 for d in dist]

    def _dijkstra(self, source: int, sink: int, potential: list[int]) -> bool:
        """Shortest reduced-cost distances from ``source``; stops once ``sink`` is settled,
        then raises the potentials so every arc on a shortest path has reduced cost 0
        (settled nodes by their distance, all others by the sink's, which keeps every
        reduced cost non-negative). Returns whether the sink was reached."""
        head, cap, cost, out = self._head, self._cap, self._cost, self._out
        dist: dict[int, int] = {source: 0}
        settled: set[int] = set()
        heap = [(0, source)]
        target: int | None = None
        while heap:
            d, node = heapq.heappop(heap)
            if node in settled:
                continue
            settled.add(node)
            if node == sink:
                target = d
                break
            base = d + potential[node]
            for arc in out[node]:
                if cap[arc] <= 0:
                    continue
                nxt = head[arc]
                if nxt in settled:
                    continue
                nd = base + cost[arc] - potential[nxt]
                if nd < dist.get(nxt, nd + 1):
                    dist[nxt] = nd
                    heapq.heappush(heap, (nd, nxt))
        if target is None:
            return False
        for node in range(self.nodes):
            if node in settled:
                potential[node] += dist[node]
            else:
                potential[node] += target
        return True

    def _blocking_flow(self, source: int, sink: int, potential: list[int]) -> tuple[int, int]:
        """Dinic on the arcs of zero reduced cost: every path there is a shortest path."""
        head, cap, cost, out = self._head, self._cap, self._cost, self._out
        total = total_cost = 0
        while True:
            # Breadth-first levels over admissible arcs, so the search below cannot loop
            # around a cycle of zero reduced cost.
            level = {source: 0}
            frontier = [source]
            while frontier and sink not in level:
                nxt_frontier = []
                for node in frontier:
                    pot = potential[node]
                    for arc in out[node]:
                        nxt = head[arc]
                        if (
                            cap[arc] > 0
                            and nxt not in level
                            and cost[arc] + pot - potential[nxt] == 0
                        ):
                            level[nxt] = level[node] + 1
                            nxt_frontier.append(nxt)
                frontier = nxt_frontier
            if sink not in level:
                return total, total_cost
            cursor = {node: 0 for node in level}
            while True:
                path = self._find_path(source, sink, level, cursor, potential)
                if path is None:
                    break
                amount = min(cap[arc] for arc in path)
                for arc in path:
                    cap[arc] -= amount
                    cap[arc ^ 1] += amount
                    total_cost += amount * cost[arc]
                total += amount

    def _find_path(
        self,
        source: int,
        sink: int,
        level: dict[int, int],
        cursor: dict[int, int],
        potential: list[int],
    ) -> list[int] | None:
        """One level-increasing admissible path (iterative DFS with Dinic's current-arc
        pointers, so dead ends are never scanned twice in a phase)."""
        head, cap, cost, out = self._head, self._cap, self._cost, self._out
        path: list[int] = []
        node = source
        while True:
            if node == sink:
                return path
            arcs = out[node]
            i = cursor[node]
            depth = level[node] + 1
            pot = potential[node]
            while i < len(arcs):
                arc = arcs[i]
                nxt = head[arc]
                if (
                    cap[arc] > 0
                    and level.get(nxt) == depth
                    and cost[arc] + pot - potential[nxt] == 0
                ):
                    break
                i += 1
            cursor[node] = i
            if i < len(arcs):
                path.append(arcs[i])
                node = head[arcs[i]]
                continue
            # Dead end: retreat and skip the arc that led here.
            if not path:
                return None
            level.pop(node, None)
            arc = path.pop()
            node = head[arc ^ 1]
            cursor[node] += 1

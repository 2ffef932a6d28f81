package memory

// entryHeap is a container/heap of messages, the one visible first (then
// the one sent first) on top. The heap of a group's visible messages and
// that of a tier's hidden ones are both one; each message knows which holds
// it and where.
type entryHeap []*entry

func (h entryHeap) Len() int { return len(h) }

func (h entryHeap) Less(i, j int) bool { return before(h[i], h[j]) }

func (h entryHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}

func (h *entryHeap) Push(x any) {
	e := x.(*entry)
	e.index = len(*h)
	*h = append(*h, e)
}

func (h *entryHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	e.index = -1
	return e
}

// before orders messages as a standard queue does: by the time they became
// visible (a redelivered message at the end of its visibility timeout),
// then by send order.
func before(a, b *entry) bool {
	if c := a.visibleAt.Compare(b.visibleAt); c != 0 {
		return c < 0
	}
	return a.seq < b.seq
}

// groupHeap is a container/heap of the groups with visible messages, in
// the order a receive serves them: fewest messages in flight, then served
// longest ago, then the one whose first message is oldest.
type groupHeap []*group

func (h groupHeap) Len() int { return len(h) }

func (h groupHeap) Less(i, j int) bool {
	a, b := h[i], h[j]
	if a.inFlight != b.inFlight {
		return a.inFlight < b.inFlight
	}
	if c := a.delivered.Compare(b.delivered); c != 0 {
		return c < 0
	}
	return before(a.visible[0], b.visible[0])
}

func (h groupHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}

func (h *groupHeap) Push(x any) {
	g := x.(*group)
	g.index = len(*h)
	*h = append(*h, g)
}

func (h *groupHeap) Pop() any {
	old := *h
	g := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	g.index = -1
	return g
}

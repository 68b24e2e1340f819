package netio

// RequestArena holds the backend requests a client builds for one batch in
// pooled buffers, so building one allocates nothing. A request must stay
// valid until the batch's replies are collected (a read's next owner is
// sent the same bytes, and a connection copies a request out only when it
// writes it); Reset then returns the buffers, so an idle client holds none.
type RequestArena struct {
	cur     []byte
	retired [][]byte
}

// Alloc returns an empty slice with room for n bytes. Appending past n
// reallocates rather than overwrite the next request.
func (a *RequestArena) Alloc(n int) []byte {
	if cap(a.cur)-len(a.cur) < n {
		if a.cur != nil {
			// Still referenced by this batch's requests: back to the pool only in Reset.
			a.retired = append(a.retired, a.cur)
		}
		a.cur = grow(nil, n)
	}
	start := len(a.cur)
	a.cur = a.cur[:start+n]
	return a.cur[start : start : start+n]
}

// Reset returns every buffer; the requests built since the last Reset
// must not be used any more.
func (a *RequestArena) Reset() {
	for i, b := range a.retired {
		releaseBuffer(b)
		a.retired[i] = nil
	}
	a.retired = a.retired[:0]
	releaseBuffer(a.cur)
	a.cur = nil
}

// Carve returns n zeroed elements at the end of *arena, growing it into a
// new array when full (slices carved before keep the old one). The caller
// empties the arena (clear, then [:0]) once the batch's replies are
// written, so a steady client reuses one array.
func Carve[T any](arena *[]T, n int) []T {
	a := *arena
	if cap(a)-len(a) < n {
		a = make([]T, 0, max(2*cap(a), n, 16))
	}
	out := a[len(a) : len(a)+n : len(a)+n]
	*arena = a[:len(a)+n]
	return out
}

// Package ratelog logs an event that may repeat thousands of times a second,
// such as a wrong password, at most once per interval: each line carries the
// number of events it stands for, and the events held back are written when
// the interval ends, so the count is never lost while the log is not flooded.
// It does no I/O of its own beyond the slog.Logger it is given.
package ratelog

package outbox

import (
	"context"
	"log/slog"
)

// EventKind says what an Event reports.
type EventKind string

// The kinds of events.
const (
	EventAttempt EventKind = "attempt" // an attempt starts, to Recipients
	EventRetry   EventKind = "retry"   // the attempt left recipients for a later one
	EventSent    EventKind = "sent"    // final: at least one recipient has the message
	EventFailed  EventKind = "failed"  // final: nobody has it
)

// Event is an attempt or an outcome, given to the WithEvents callback and
// logged.
type Event struct {
	Kind       EventKind
	ID         ID
	MessageID  string
	Attempt    int         // 1 for the first attempt
	Recipients []Recipient // for EventAttempt those tried; otherwise all, with their outcome
	Err        error       // the attempt's last failure, if any
}

func (ob *Outbox) emit(ctx context.Context, ev Event) {
	level := slog.LevelInfo
	msg := "outbox: sending"
	switch ev.Kind {
	case EventRetry:
		level, msg = slog.LevelWarn, "outbox: will retry"
	case EventSent:
		msg = "outbox: sent"
	case EventFailed:
		level, msg = slog.LevelError, "outbox: failed"
	}
	if ob.cfg.logger.Enabled(ctx, level) {
		attrs := []slog.Attr{
			slog.Int64("id", int64(ev.ID)),
			slog.String("message_id", ev.MessageID),
			slog.Int("attempt", ev.Attempt),
		}
		var sent, pending, failed []string
		for _, r := range ev.Recipients {
			switch r.State {
			case RecipientSent:
				sent = append(sent, r.Address)
			case RecipientFailed:
				failed = append(failed, r.Address)
			default:
				pending = append(pending, r.Address)
			}
		}
		if ev.Kind == EventAttempt {
			attrs = append(attrs, slog.Any("to", pending))
		} else {
			attrs = append(attrs, slog.Any("sent", sent), slog.Any("pending", pending), slog.Any("failed", failed))
		}
		if ev.Err != nil {
			attrs = append(attrs, slog.String("error", ev.Err.Error()))
		}
		ob.cfg.logger.LogAttrs(ctx, level, msg, attrs...)
	}
	if ob.cfg.onEvent != nil {
		ob.cfg.onEvent(ev)
	}
}

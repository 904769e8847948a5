package mailsession

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-smtp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/trace"
)

// OpenTelemetry instrumentation (WithMeterProvider, WithTracerProvider).
// Names follow OpenTelemetry's semantic-convention style: dotted lower
// case, UCUM units, the standard attributes where they exist
// (server.address, server.port, network.protocol.name,
// tls.protocol.version, error.type). The README's "Metrics and traces"
// lists them.
//
// Without a provider every hook below returns at once: no span, no
// instrument call, no allocation.

// instrumentationName is the instrumentation scope of the meter and tracer.
const instrumentationName = "github.com/jmailgo/jmail/mailsession"

// The instruments' names.
const (
	metricSends          = "smtp.client.sends"
	metricSendDuration   = "smtp.client.send.duration"
	metricRecipients     = "smtp.client.recipients"
	metricMessageSize    = "smtp.client.message.size"
	metricConnections    = "smtp.client.connection.count"
	metricDials          = "smtp.client.connection.dials"
	metricReconnects     = "smtp.client.connection.reconnects"
	metricTLSHandshakes  = "smtp.client.tls.handshakes"
	metricReceiveRuns    = "mail.receive.runs"
	metricReceiveTime    = "mail.receive.duration"
	metricReceiveHanded  = "mail.receive.messages"
	metricHandlerErrors  = "mail.receive.handler.errors"
	metricReceiveDeleted = "mail.receive.deletions"
)

// The attributes of our own (the others are OpenTelemetry's).
const (
	attrSendOutcome     = attribute.Key("mail.send.outcome")
	attrRecipientResult = attribute.Key("mail.recipient.outcome")
	attrAuthMechanism   = attribute.Key("mail.auth.mechanism")
	attrTLSMode         = attribute.Key("mail.tls.mode")
	attrReceiveResult   = attribute.Key("mail.receive.result")
	attrConnState       = attribute.Key("smtp.client.connection.state")
	attrReconnectReason = attribute.Key("smtp.reconnect.reason")
	attrReplyCode       = attribute.Key("smtp.reply.code")
	attrRcptCodes       = attribute.Key("smtp.rcpt.reply_codes")
	attrRcptTo          = attribute.Key("smtp.rcpt.to")
	attrRcptCount       = attribute.Key("smtp.rcpt.count")
	attrMessageSize     = attribute.Key("smtp.message.size")
	attrConnReused      = attribute.Key("smtp.connection.reused")
	attrStoreCode       = attribute.Key("mail.store.response_code")
	attrReceiveHanded   = attribute.Key("mail.receive.messages")
	attrReceiveFailed   = attribute.Key("mail.receive.handler_errors")
	attrReceiveDeleted  = attribute.Key("mail.receive.deletions")

	attrServerAddress = attribute.Key("server.address")
	attrServerPort    = attribute.Key("server.port")
	attrProtocolName  = attribute.Key("network.protocol.name")
	attrTLSVersion    = attribute.Key("tls.protocol.version")
	attrErrorType     = attribute.Key("error.type")
)

// sendOutcome is the outcome of one Send or SendRaw, the value of
// mail.send.outcome:
//
//   - sent: every recipient accepted the message (a nil error);
//   - rejected: the transaction itself went through, but the server (or
//     the suppression list) refused at least one recipient: the message
//     went to the others, or to nobody when every recipient was refused
//     or one was and sendpartial is off (a *SendError whose Err is nil);
//   - uncertain: the end of the message was written and no reply came
//     (errors.Is(err, ErrUncertain));
//   - temporary: any other failure that IsTemporary reports (a 4xx to
//     MAIL, DATA or the message, a network failure, a timeout, the ctx's
//     end);
//   - permanent: every other failure (a 5xx to MAIL, DATA or the message,
//     an invalid message, a refused login, a closed session).
type sendOutcome uint8

const (
	outcomeSent sendOutcome = iota
	outcomeRejected
	outcomeTemporary
	outcomePermanent
	outcomeUncertain
	numOutcomes
)

var outcomeNames = [numOutcomes]string{"sent", "rejected", "temporary", "permanent", "uncertain"}

func (o sendOutcome) String() string { return outcomeNames[o] }

// classifySend gives the outcome of a send that returned err.
func classifySend(err error) sendOutcome {
	if err == nil {
		return outcomeSent
	}
	if errors.Is(err, ErrUncertain) {
		return outcomeUncertain
	}
	var se *SendError
	if errors.As(err, &se) && se.Err == nil && len(se.Rejected) > 0 {
		return outcomeRejected
	}
	if IsTemporary(err) {
		return outcomeTemporary
	}
	return outcomePermanent
}

// The recipient outcomes, values of mail.recipient.outcome: the four
// lists of SendError.
const (
	rcptSent = iota
	rcptRefused
	rcptUnsent
	rcptUncertain
	numRcptOutcomes
)

var rcptOutcomeNames = [numRcptOutcomes]string{"sent", "rejected", "unsent", "uncertain"}

// errorType is err's error.type: the SMTP reply code when a reply failed
// the operation, else a short class; "_OTHER" when none fits.
func errorType(err error) string {
	var se *SendError
	if errors.As(err, &se) && se.Err == nil && len(se.Rejected) > 0 {
		if c := se.Rejected[0].Code; c != 0 {
			return strconv.Itoa(c)
		}
		return "suppressed"
	}
	var he *HandlerError
	var ste *StoreError
	var smtpErr *smtp.SMTPError
	var ne net.Error
	switch {
	case errors.Is(err, ErrUncertain):
		return "uncertain"
	case errors.Is(err, ErrAuth):
		return "auth"
	case errors.As(err, &smtpErr) && smtpErr.Code != 0:
		return strconv.Itoa(smtpErr.Code)
	case errors.Is(err, ErrClosed), errors.Is(err, errAborted):
		return "closed"
	case errors.Is(err, ErrInvalidMessage):
		return "invalid_message"
	case errors.Is(err, ErrInsecureAuth):
		return "insecure_auth"
	case errors.Is(err, ErrTLSRequired):
		return "tls_required"
	case errors.Is(err, ErrNoStore):
		return "no_store"
	case errors.As(err, &ste) && ste.Code != "":
		return strings.ToLower(ste.Code)
	case errors.As(err, &he):
		return "handler"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.As(err, &ne):
		return "network"
	}
	return "_OTHER"
}

// tlsVersionValue turns "TLS 1.3" into tls.protocol.version's "1.3".
func tlsVersionValue(name string) string { return strings.TrimPrefix(name, "TLS ") }

// telemetry is a session's instruments and tracer.
type telemetry struct {
	metrics, tracing bool
	// recipients: WithTelemetryRecipients(true).
	recipients bool
	mp         metric.MeterProvider // never nil: noop without WithMeterProvider
	tracer     trace.Tracer

	smtpAttrs  []attribute.KeyValue // server and protocol of the transport
	storeAttrs []attribute.KeyValue // of the store; nil without one
	smtpSet    metric.MeasurementOption
	storeSet   metric.MeasurementOption

	sends        metric.Int64Counter
	sendDuration metric.Float64Histogram
	recipientsN  metric.Int64Counter
	messageSize  metric.Int64Histogram
	dials        metric.Int64Counter
	reconnects   metric.Int64Counter
	handshakes   metric.Int64Counter
	connections  metric.Int64ObservableUpDownCounter
	poolReg      metric.Registration

	receiveRuns     metric.Int64Counter
	receiveDuration metric.Float64Histogram
	receiveHanded   metric.Int64Counter
	handlerErrors   metric.Int64Counter
	receiveDeleted  metric.Int64Counter

	// Precomputed attribute sets of the hot path.
	sendsBy [numOutcomes]metric.MeasurementOption
	rcptBy  [numRcptOutcomes]metric.MeasurementOption
}

// endpointAttrs are the server attributes of ep.
func endpointAttrs(ep *endpoint) []attribute.KeyValue {
	return []attribute.KeyValue{
		attrServerAddress.String(ep.Host),
		attrServerPort.Int(ep.Port),
		attrProtocolName.String(strings.TrimSuffix(ep.Protocol, "s")),
	}
}

func withExtra(base []attribute.KeyValue, extra ...attribute.KeyValue) metric.MeasurementOption {
	all := make([]attribute.KeyValue, 0, len(base)+len(extra))
	all = append(append(all, base...), extra...)
	return metric.WithAttributeSet(attribute.NewSet(all...))
}

// newTelemetry makes the instruments of a session with settings set.
func newTelemetry(c *config, set *settings) (*telemetry, error) {
	t := &telemetry{recipients: c.telemetryRecipients, mp: c.meterProvider}
	if t.mp == nil {
		t.mp = metricnoop.NewMeterProvider()
	} else {
		t.metrics = true
	}
	if c.tracerProvider != nil {
		t.tracing = true
		t.tracer = c.tracerProvider.Tracer(instrumentationName)
	}
	if !t.metrics && !t.tracing {
		return t, nil
	}
	t.smtpAttrs = endpointAttrs(set.transport)
	t.smtpSet = withExtra(t.smtpAttrs)
	if set.store != nil {
		t.storeAttrs = endpointAttrs(set.store)
		t.storeSet = withExtra(t.storeAttrs)
	}
	for o := range numOutcomes {
		t.sendsBy[o] = withExtra(t.smtpAttrs, attrSendOutcome.String(outcomeNames[o]))
	}
	for o := range numRcptOutcomes {
		t.rcptBy[o] = withExtra(t.smtpAttrs, attrRecipientResult.String(rcptOutcomeNames[o]))
	}
	if !t.metrics {
		return t, nil
	}
	m := t.mp.Meter(instrumentationName)
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	counter := func(name, unit, desc string) metric.Int64Counter {
		c, err := m.Int64Counter(name, metric.WithUnit(unit), metric.WithDescription(desc))
		add(err)
		return c
	}
	var err error
	t.sends = counter(metricSends, "{message}",
		"Messages sent with Send or SendRaw, by outcome (sent, rejected, temporary, permanent, uncertain).")
	t.sendDuration, err = m.Float64Histogram(metricSendDuration, metric.WithUnit("s"),
		metric.WithDescription("Duration of a Send or SendRaw, waiting for a pooled connection included."),
		metric.WithExplicitBucketBoundaries(0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 30, 60))
	add(err)
	t.recipientsN = counter(metricRecipients, "{recipient}",
		"Envelope recipients by outcome (sent, rejected, unsent, uncertain).")
	t.messageSize, err = m.Int64Histogram(metricMessageSize, metric.WithUnit("By"),
		metric.WithDescription("Size of each message whose end was written to the server, in bytes as produced (before dot-stuffing)."),
		metric.WithExplicitBucketBoundaries(1<<10, 4<<10, 16<<10, 64<<10, 256<<10, 1<<20, 4<<20, 16<<20, 64<<20))
	add(err)
	t.dials = counter(metricDials, "{connection}",
		"SMTP connections opened by the pool (greeting, EHLO, TLS and AUTH included); error.type on failure.")
	t.reconnects = counter(metricReconnects, "{connection}",
		"Pooled SMTP connections found dead and replaced, by reason (closed, noop, retry).")
	t.handshakes = counter(metricTLSHandshakes, "{handshake}",
		"TLS handshakes of pooled SMTP connections, by mode (implicit, starttls) and version; error.type on failure.")
	t.connections, err = m.Int64ObservableUpDownCounter(metricConnections, metric.WithUnit("{connection}"),
		metric.WithDescription("SMTP connections of the pool, by state (used: serving a send, idle: kept for reuse)."))
	add(err)
	t.receiveRuns = counter(metricReceiveRuns, "{run}",
		"Receive runs, by result (ok, error).")
	t.receiveDuration, err = m.Float64Histogram(metricReceiveTime, metric.WithUnit("s"),
		metric.WithDescription("Duration of a Receive run, handlers included."))
	add(err)
	t.receiveHanded = counter(metricReceiveHanded, "{message}",
		"Messages handed over to a Receive handler.")
	t.handlerErrors = counter(metricHandlerErrors, "{error}",
		"Receive handlers that failed or panicked (their message stays on the server).")
	t.receiveDeleted = counter(metricReceiveDeleted, "{message}",
		"Deletions committed by Receive (POP3 QUIT, IMAP EXPUNGE).")
	if len(errs) > 0 {
		return nil, fmt.Errorf("mailsession: metrics: %w", errors.Join(errs...))
	}
	return t, nil
}

// MeterProvider returns the provider given with WithMeterProvider, or a
// no-op one without it. Packages that build on the session (the outbox)
// record their metrics with it, so that one option instruments them all.
func (s *Session) MeterProvider() metric.MeterProvider { return s.tel.mp }

// observePool reports the pool's connections in use and idle.
func (t *telemetry) observePool(p *pool) error {
	if !t.metrics {
		return nil
	}
	used := withExtra(t.smtpAttrs, attrConnState.String("used"))
	idle := withExtra(t.smtpAttrs, attrConnState.String("idle"))
	reg, err := t.mp.Meter(instrumentationName).RegisterCallback(func(_ context.Context, o metric.Observer) error {
		p.mu.Lock()
		nUsed, nIdle := len(p.busy), len(p.idle)
		p.mu.Unlock()
		o.ObserveInt64(t.connections, int64(nUsed), used)
		o.ObserveInt64(t.connections, int64(nIdle), idle)
		return nil
	}, t.connections)
	if err != nil {
		return fmt.Errorf("mailsession: metrics: %w", err)
	}
	t.poolReg = reg
	return nil
}

// stopObserving ends the pool's callback (the pool has shut down).
func (t *telemetry) stopObserving() {
	if t.poolReg != nil {
		t.poolReg.Unregister()
	}
}

// dialed records a dial of the pool and its TLS handshake.
func (t *telemetry) dialed(ctx context.Context, ep *endpoint, sc *smtpConn, err error) {
	if !t.metrics {
		return
	}
	if err != nil {
		t.dials.Add(ctx, 1, withExtra(t.smtpAttrs, attrErrorType.String(errorType(err))))
	} else {
		t.dials.Add(ctx, 1, t.smtpSet)
	}
	mode := ""
	switch {
	case ep.ImplicitTLS:
		mode = "implicit"
	case ep.StartTLS:
		mode = "starttls"
	default:
		return
	}
	var pe *protocolError
	switch {
	case err == nil && sc.tls:
		t.handshakes.Add(ctx, 1, withExtra(t.smtpAttrs, attrTLSMode.String(mode), attrTLSVersion.String(tlsVersionValue(sc.info.TLSVersion))))
	case err != nil && errors.As(err, &pe) && pe.Op == "TLS handshake":
		t.handshakes.Add(ctx, 1, withExtra(t.smtpAttrs, attrTLSMode.String(mode), attrErrorType.String(errorType(err))))
	}
}

// reconnect records a pooled connection found dead and replaced: closed
// (the server spoke unasked or closed it), noop (NOOP failed) or retry
// (the transaction failed on it before anything could be delivered, and
// the message went on a new connection).
func (t *telemetry) reconnect(ctx context.Context, reason string) {
	if !t.metrics {
		return
	}
	t.reconnects.Add(ctx, 1, withExtra(t.smtpAttrs, attrReconnectReason.String(reason)))
}

// sendOp is the telemetry of one Send or SendRaw; nil when off (its
// methods then do nothing).
type sendOp struct {
	t     *telemetry
	span  trace.Span
	start time.Time

	rcpts []string // the envelope's, before suppression
	// Of the last transaction (a retry on a new connection starts over).
	rcptCodes  []int64
	failCode   int // the first refusal of MAIL, DATA or a chunk, or a 421
	endCode    int // the reply to the end of the message
	bytes      int64
	committed  bool
	tlsVersion string
	mechanism  string
	reused     bool
}

// startSend begins the telemetry of a send: the span, a child of ctx's.
func (t *telemetry) startSend(ctx context.Context) (context.Context, *sendOp) {
	if !t.metrics && !t.tracing {
		return ctx, nil
	}
	op := &sendOp{t: t, start: time.Now()}
	if t.tracing {
		ctx, op.span = t.tracer.Start(ctx, "smtp send", trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(t.smtpAttrs...))
	}
	return ctx, op
}

// envelope records the envelope's recipients.
func (op *sendOp) envelope(env envelope) {
	if op != nil {
		op.rcpts = env.rcpts
	}
}

// connection records the connection a transaction runs on.
func (op *sendOp) connection(sc *smtpConn, reused bool) {
	if op != nil {
		op.tlsVersion, op.mechanism, op.reused = sc.info.TLSVersion, sc.info.Mechanism, reused
	}
}

// begin starts a transaction's records afresh and counts the bytes body
// writes.
func (op *sendOp) begin(body func(io.Writer) error) func(io.Writer) error {
	if op == nil {
		return body
	}
	op.rcptCodes, op.failCode, op.endCode, op.bytes, op.committed = op.rcptCodes[:0], 0, 0, 0, false
	return func(w io.Writer) error {
		return body(&countingWriter{w: w, n: &op.bytes})
	}
}

// reply records a reply to a command of kind.
func (op *sendOp) reply(kind cmdKind, code int) {
	if op == nil {
		return
	}
	switch kind {
	case cmdRCPT:
		op.rcptCodes = append(op.rcptCodes, int64(code))
	case cmdEndOfMsg:
		op.endCode = code
	}
}

// ended records the transaction's end: whether the end of the message was
// written, and the reply that decided it (smtp.reply.code): MAIL's
// refusal, that of DATA or a chunk, a 421, else the reply to the end of
// the message.
func (op *sendOp) ended(t *txn) {
	if op == nil {
		return
	}
	op.committed = t.committed
	var smtpErr *smtp.SMTPError
	switch {
	case t.mailErr != nil && errors.As(t.mailErr, &smtpErr):
		op.failCode = smtpErr.Code
	case t.dataErr != nil && errors.As(t.dataErr, &smtpErr):
		op.failCode = smtpErr.Code
	case t.closing:
		op.failCode = 421
	}
	if t.mailErr != nil || t.accepted == 0 {
		op.endCode = 0 // only the consequence (a 503, a 554 "no valid recipients")
	}
}

// end records the send's outcome, err its error.
func (op *sendOp) end(ctx context.Context, err error) {
	if op == nil {
		return
	}
	t := op.t
	outcome := classifySend(err)
	var counts [numRcptOutcomes]int
	var se *SendError
	switch {
	case err == nil:
		counts[rcptSent] = len(op.rcpts)
	case errors.As(err, &se):
		counts = [numRcptOutcomes]int{len(se.Sent), len(se.Rejected), len(se.Unsent), len(se.Uncertain)}
	default:
		counts[rcptUnsent] = len(op.rcpts)
	}
	etype := ""
	if err != nil {
		etype = errorType(err)
	}
	if t.metrics {
		t.sends.Add(ctx, 1, t.sendsBy[outcome])
		for o, n := range counts {
			if n > 0 {
				t.recipientsN.Add(ctx, int64(n), t.rcptBy[o])
			}
		}
		d := time.Since(op.start).Seconds()
		if err == nil {
			t.sendDuration.Record(ctx, d, t.sendsBy[outcome])
		} else {
			t.sendDuration.Record(ctx, d, withExtra(t.smtpAttrs, attrSendOutcome.String(outcome.String()), attrErrorType.String(etype)))
		}
		if op.committed {
			t.messageSize.Record(ctx, op.bytes, t.sendsBy[outcome])
		}
	}
	if op.span == nil {
		return
	}
	attrs := []attribute.KeyValue{
		attrSendOutcome.String(outcome.String()),
		attrRcptCount.Int(len(op.rcpts)),
	}
	attrs = appendConnAttrs(attrs, op.tlsVersion, op.mechanism)
	if op.failCode != 0 {
		attrs = append(attrs, attrReplyCode.Int(op.failCode))
	} else if op.endCode != 0 {
		attrs = append(attrs, attrReplyCode.Int(op.endCode))
	}
	if len(op.rcptCodes) > 0 {
		attrs = append(attrs, attrRcptCodes.Int64Slice(op.rcptCodes))
	}
	if op.committed {
		attrs = append(attrs, attrMessageSize.Int64(op.bytes))
	}
	if op.tlsVersion != "" || op.mechanism != "" || op.reused {
		attrs = append(attrs, attrConnReused.Bool(op.reused))
	}
	if t.recipients && len(op.rcpts) > 0 {
		attrs = append(attrs, attrRcptTo.StringSlice(op.rcpts))
	}
	t.endSpan(op.span, attrs, err, etype)
}

// appendConnAttrs appends the connection's TLS version and login
// mechanism, those known.
func appendConnAttrs(attrs []attribute.KeyValue, tlsVersion, mechanism string) []attribute.KeyValue {
	if tlsVersion != "" {
		attrs = append(attrs, attrTLSVersion.String(tlsVersionValue(tlsVersion)))
	}
	if mechanism != "" {
		attrs = append(attrs, attrAuthMechanism.String(mechanism))
	}
	return attrs
}

// endSpan ends span with attrs and, for a failure, error.type (etype), the
// Error status and the exception event.
func (t *telemetry) endSpan(span trace.Span, attrs []attribute.KeyValue, err error, etype string) {
	if err != nil {
		attrs = append(attrs, attrErrorType.String(etype))
	}
	span.SetAttributes(attrs...)
	if err != nil {
		t.failSpan(span, err)
	}
	span.End()
}

// failSpan sets span's status to Error with the error's text, and records
// the error as an exception event. Without WithTelemetryRecipients every
// e-mail address in the text is replaced by "<redacted>": the text names
// the recipients and quotes the server's replies, which name them too.
func (t *telemetry) failSpan(span trace.Span, err error) {
	if t.recipients {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
		return
	}
	text := redactAddresses(err.Error())
	span.AddEvent("exception", trace.WithAttributes(
		attribute.String("exception.type", fmt.Sprintf("%T", err)),
		attribute.String("exception.message", text)))
	span.SetStatus(codes.Error, text)
}

// addressPattern is anything that looks like an e-mail address: a local
// part that is a run of atom characters or a quoted string ("john
// smith"), "@", and a domain or a domain literal ([192.0.2.1]).
var addressPattern = regexp.MustCompile(`<?(?:"(?:[^"\\\r\n]|\\.)*"|[^\s<>()\[\],;:"'@]+)@(?:\[[^\]\s]*\]|[^\s<>()\[\],;:"'@]+)>?`)

// redactAddresses replaces the e-mail addresses in s (with their angle
// brackets) by "<redacted>".
func redactAddresses(s string) string { return addressPattern.ReplaceAllString(s, "<redacted>") }

// countingWriter counts the bytes written through it.
type countingWriter struct {
	w io.Writer
	n *int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	*c.n += int64(n)
	return n, err
}

// receiveOp is the telemetry of one Receive run; nil when off.
type receiveOp struct {
	t     *telemetry
	span  trace.Span
	start time.Time

	tlsVersion, mechanism string
	handed, failed        int64
	marked, deleted       int64 // deletions marked but not committed, committed
}

// startReceive begins the telemetry of a Receive run on ep: the span
// ("receive pop3", "receive imap"), a child of ctx's.
func (t *telemetry) startReceive(ctx context.Context, ep *endpoint) (context.Context, *receiveOp) {
	if (!t.metrics && !t.tracing) || ep == nil {
		return ctx, nil
	}
	op := &receiveOp{t: t, start: time.Now()}
	if t.tracing {
		ctx, op.span = t.tracer.Start(ctx, "receive "+strings.TrimSuffix(ep.Protocol, "s"),
			trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(t.storeAttrs...))
	}
	return ctx, op
}

// opened records the store connection of the run.
func (op *receiveOp) opened(st *Store) {
	if op != nil && st != nil {
		inf := st.drv.info()
		op.tlsVersion, op.mechanism = inf.TLSVersion, inf.Mechanism
	}
}

// handedOver records a message handed to the handler.
func (op *receiveOp) handedOver(ctx context.Context) {
	if op == nil {
		return
	}
	op.handed++
	if op.t.metrics {
		op.t.receiveHanded.Add(ctx, 1, op.t.storeSet)
	}
}

// handlerFailed records a handler's failure.
func (op *receiveOp) handlerFailed(ctx context.Context) {
	if op == nil {
		return
	}
	op.failed++
	if op.t.metrics {
		op.t.handlerErrors.Add(ctx, 1, op.t.storeSet)
	}
}

// markedDeleted records a message marked for deletion.
func (op *receiveOp) markedDeleted() {
	if op != nil {
		op.marked++
	}
}

// committed records the commit of the marked deletions (err: it failed,
// and they are not counted).
func (op *receiveOp) committed(ctx context.Context, err error) {
	if op == nil {
		return
	}
	n := op.marked
	op.marked = 0
	if err != nil || n == 0 {
		return
	}
	op.deleted += n
	if op.t.metrics {
		op.t.receiveDeleted.Add(ctx, n, op.t.storeSet)
	}
}

// end records the run's result, err its error.
func (op *receiveOp) end(ctx context.Context, err error) {
	if op == nil {
		return
	}
	t := op.t
	result, etype := "ok", ""
	if err != nil {
		result, etype = "error", errorType(err)
	}
	if t.metrics {
		opt := withExtra(t.storeAttrs, attrReceiveResult.String(result))
		if err != nil {
			opt = withExtra(t.storeAttrs, attrReceiveResult.String(result), attrErrorType.String(etype))
		}
		t.receiveRuns.Add(ctx, 1, opt)
		t.receiveDuration.Record(ctx, time.Since(op.start).Seconds(), opt)
	}
	if op.span == nil {
		return
	}
	attrs := []attribute.KeyValue{
		attrReceiveResult.String(result),
		attrReceiveHanded.Int64(op.handed),
		attrReceiveFailed.Int64(op.failed),
		attrReceiveDeleted.Int64(op.deleted),
	}
	attrs = appendConnAttrs(attrs, op.tlsVersion, op.mechanism)
	var ste *StoreError
	if errors.As(err, &ste) && ste.Code != "" {
		attrs = append(attrs, attrStoreCode.String(ste.Code))
	}
	t.endSpan(op.span, attrs, err, etype)
}

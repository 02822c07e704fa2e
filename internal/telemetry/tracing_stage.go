package telemetry

import (
	"context"
	"errors"
	"strconv"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/switchyard/switchyard/internal/gateway"
	"github.com/switchyard/switchyard/internal/llm"
	"github.com/switchyard/switchyard/internal/route"
)

// Span attribute keys: OpenTelemetry's GenAI and HTTP conventions where
// they have a name, switchyard.* for the gateway's own.
const (
	attrOperation    = attribute.Key("gen_ai.operation.name")
	attrSystem       = attribute.Key("gen_ai.system")
	attrRequestModel = attribute.Key("gen_ai.request.model")
	attrRespModel    = attribute.Key("gen_ai.response.model")
	attrInputTokens  = attribute.Key("gen_ai.usage.input_tokens")
	attrOutputTokens = attribute.Key("gen_ai.usage.output_tokens")
	attrFinish       = attribute.Key("gen_ai.response.finish_reasons")
	attrStatus       = attribute.Key("http.response.status_code")
	attrErrorType    = attribute.Key("error.type")
	attrRequestID    = attribute.Key("switchyard.request_id")
	attrFrontDoor    = attribute.Key("switchyard.front_door")
	attrDeployment   = attribute.Key("switchyard.deployment")
	attrRegion       = attribute.Key("switchyard.region")
	attrAttempts     = attribute.Key("switchyard.attempts")
	attrCachedTokens = attribute.Key("switchyard.usage.cached_tokens")
)

// firstChunkEvent marks, on a stream's span, when the client got its
// first chunk.
const firstChunkEvent = "switchyard.first_chunk"

// stateSpan keeps the call's span in Call state from Before to After.
const stateSpan = "telemetry.trace.span"

// traceStage records one span per model call: started in Before (at
// Call.Start) and ended in After, which for streams runs when the stream
// ends. Calls that never reach Before (refused by an earlier stage,
// embeddings) get their span in After, still starting at Call.Start.
type traceStage struct {
	tracer  trace.Tracer
	enabled bool
}

func (traceStage) Name() string { return "tracing" }

func (s traceStage) Before(ctx context.Context, c *gateway.Call) error {
	if s.enabled {
		c.Set(stateSpan, s.start(ctx, c))
	}
	return nil
}

func (s traceStage) start(ctx context.Context, c *gateway.Call) trace.Span {
	attrs := []attribute.KeyValue{attrOperation.String(c.Kind), attrRequestModel.String(c.Alias)}
	if info := c.Info; info != nil {
		attrs = append(attrs, attrRequestID.String(info.ID))
		if info.FrontDoor != "" {
			attrs = append(attrs, attrFrontDoor.String(info.FrontDoor))
		}
	}
	_, span := s.tracer.Start(ctx, spanName(c),
		trace.WithSpanKind(trace.SpanKindClient),
		trace.WithTimestamp(c.Start),
		trace.WithAttributes(attrs...))
	return span
}

// spanName follows the GenAI convention "{operation} {model}" when the
// model is a configured alias; span names must stay low in cardinality,
// and clients choose the model string.
func spanName(c *gateway.Call) string {
	if c.Deployment != nil || aliasKnown(c.Router(), c) {
		return c.Kind + " " + c.Alias
	}
	return c.Kind
}

func (s traceStage) Stream(_ context.Context, c *gateway.Call, st llm.ChatStream) llm.ChatStream {
	span, _ := c.Get(stateSpan).(trace.Span)
	if span == nil || !span.IsRecording() {
		return st
	}
	return &spanStream{ChatStream: st, span: span}
}

func (s traceStage) After(ctx context.Context, c *gateway.Call) {
	if !s.enabled {
		return
	}
	span, _ := c.Get(stateSpan).(trace.Span)
	if span == nil {
		span = s.start(ctx, c)
	}
	defer span.End()
	if !span.IsRecording() {
		return
	}
	status := c.Status()
	attrs := make([]attribute.KeyValue, 0, 10)
	attrs = append(attrs, attrStatus.Int(status), attrAttempts.Int(c.Attempts))
	if d := c.Deployment; d != nil {
		model := d.ModelVersion
		if model == "" {
			model = d.Model
		}
		attrs = append(attrs, attrSystem.String(d.Provider), attrRespModel.String(model),
			attrDeployment.String(d.Name), attrRegion.String(d.Region))
	}
	if u := c.Usage; u != nil {
		attrs = append(attrs, attrInputTokens.Int(u.PromptTokens), attrOutputTokens.Int(u.CompletionTokens))
		if n := u.CachedTokens(); n > 0 {
			attrs = append(attrs, attrCachedTokens.Int(n))
		}
	}
	if c.FinishReason != "" {
		attrs = append(attrs, attrFinish.StringSlice([]string{c.FinishReason}))
	}
	if c.Err != nil {
		attrs = append(attrs, attrErrorType.String(errorType(c.Err, status)))
		span.SetStatus(codes.Error, errorDescription(c.Err))
	}
	span.SetAttributes(attrs...)
}

// errorType is a low-cardinality name for err, as error.type asks.
func errorType(err error, status int) string {
	if errors.Is(err, context.Canceled) {
		return "canceled"
	}
	var le *llm.Error
	if errors.As(err, &le) && le.Type != "" {
		return le.Type
	}
	return strconv.Itoa(status)
}

// errorDescription is what the span says went wrong. Errors that are not
// *llm.Error may be transport errors carrying URLs; their text is kept
// out of traces, which leave the gateway.
func errorDescription(err error) string {
	if errors.Is(err, context.Canceled) {
		return "the client went away"
	}
	var le *llm.Error
	if errors.As(err, &le) {
		return le.Message
	}
	return "transport failure; the gateway's log has the details under the request id"
}

// spanStream adds an event to the call's span on the first chunk; the
// span itself ends in After, which the gateway runs when the stream ends.
type spanStream struct {
	llm.ChatStream
	span  trace.Span
	first bool
}

func (s *spanStream) Next() (*llm.ChatChunk, error) {
	chunk, err := s.ChatStream.Next()
	if err == nil && !s.first {
		s.first = true
		s.span.AddEvent(firstChunkEvent, trace.WithTimestamp(time.Now()))
	}
	return chunk, err
}

// aliasKnown reports whether a pool of r serves c's alias; with no router
// to ask, it trusts the alias.
func aliasKnown(r *route.Router, c *gateway.Call) bool {
	if r == nil {
		return true
	}
	if _, ok := r.PoolConfig(c.Alias); ok {
		return true
	}
	// Vertex-style aliases contain "@": ParseModel split one in two.
	if c.Version != "" {
		if _, ok := r.PoolConfig(c.Alias + "@" + c.Version); ok {
			return true
		}
	}
	return false
}

var (
	_ gateway.BeforeStage = traceStage{}
	_ gateway.StreamStage = traceStage{}
	_ gateway.AfterStage  = traceStage{}
)

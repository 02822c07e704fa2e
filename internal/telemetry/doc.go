// Package telemetry makes the gateway observable: Prometheus metrics on a
// dedicated registry (per-call counters and histograms, plus the router's
// live deployment state read at scrape time) and OpenTelemetry spans per
// gateway call with W3C trace-context propagation.
//
// Both plug into the gateway as stages; neither imports a front door.
// Wiring, in order of the request's path:
//
//	tr, _ := telemetry.NewTracing(ctx, tracingOpts)    // Shutdown on exit flushes
//	var gw *gateway.Gateway                            // built below with the stages
//	m := telemetry.NewMetrics(telemetry.MetricsOptions{Router: func() *route.Router { return gw.Router() }})
//	stages := append([]gateway.Stage{tr.Stage()}, governance...)
//	stages = append(stages, m.Stage())                 // last: TTFT at the client's chunk
//	routes.Metrics = m.Handler()
//	h := telemetry.TraceMiddleware(tr.TracerProvider(), server.Handler(routes, log))
package telemetry

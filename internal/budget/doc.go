// Package budget enforces spend limits per key, team and org with
// reserve-then-settle accounting, in memory for one node or in Redis for
// several replicas.
package budget

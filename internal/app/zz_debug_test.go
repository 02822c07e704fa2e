package app_test

import "testing"

func TestZZSig(t *testing.T) {
	for _, m := range parityModes {
		e := start(t, parityConfig)
		eng := e.fleet.Clouds["vertex"].Engine
		eng.SetScript(&parityScript)
		runParity(t, e, parityBackends[4], m)
		reqs := eng.Recorder().Requests()
		t.Logf("%s: %s", m.name, reqs[len(reqs)-1].Body)
	}
}

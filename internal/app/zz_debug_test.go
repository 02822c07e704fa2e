package app_test

import (
	"testing"
	"net/http"
	"strings"
)

func TestZZDump(t *testing.T) {
	for _, b := range parityBackends {
		e := start(t, parityConfig)
		e.fleet.Clouds[b.cloud].Engine.SetScript(&parityScript)
		tools := `"tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}}]`
		for _, stream := range []string{"false"} {
			_, h, body := e.do(http.MethodPost, "/v1/chat/completions", testKey, `{"model":"`+b.alias+`","stream":`+stream+`,`+tools+`,"messages":[{"role":"user","content":"weather in Paris?"}]}`)
			_ = h
			t.Logf("%s stream=%s\n%s", b.alias, stream, strings.TrimSpace(body))
			_, _, body = e.do(http.MethodPost, "/v1/chat/completions", testKey, `{"model":"`+b.alias+`","stream":`+stream+`,`+tools+`,"messages":[{"role":"user","content":"weather in Paris?"},{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}}]},{"role":"tool","tool_call_id":"call_1","content":"{\"temp_c\":21}"}]}`)
			t.Logf("%s stream=%s turn2\n%s", b.alias, stream, strings.TrimSpace(body))
		}
	}
}

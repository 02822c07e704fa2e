package app_test

import (
	"os"
	"regexp"
	"testing"

	"github.com/switchyard/switchyard/internal/config"
)

// TestREADMEConfigIsValid keeps the README's configuration example (with
// its guardrails section) a config the gateway accepts.
func TestREADMEConfigIsValid(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)```yaml\n(.*?)```").FindAllSubmatch(readme, -1)
	if len(blocks) < 3 {
		t.Fatalf("README has %d YAML blocks; expected the config, routing and guardrails examples", len(blocks))
	}
	doc := append(append([]byte{}, blocks[0][1]...), blocks[2][1]...)
	env := map[string]string{
		"SWITCHYARD_PLATFORM_KEY": testKey,
		"OPENAI_API_KEY":          "sk-example",
		"SLACK_WEBHOOK":           "https://hooks.slack.example/T000",
	}
	_, err = config.Parse(doc, config.ParseOptions{
		LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok },
		ReadFile:  func(string) ([]byte, error) { return []byte("example-secret\n"), nil },
	})
	if err != nil {
		t.Fatalf("the README's example config does not load:\n%v", err)
	}
}

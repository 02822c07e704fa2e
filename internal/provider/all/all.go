// Package all links every provider adapter into the binary: importing it
// runs each adapter's registration. Adding a cloud adds one line here.
package all

import (
	_ "github.com/switchyard/switchyard/internal/provider/anthropic" // anthropic
	_ "github.com/switchyard/switchyard/internal/provider/azure"     // azure
	_ "github.com/switchyard/switchyard/internal/provider/bedrock"   // bedrock
	_ "github.com/switchyard/switchyard/internal/provider/openai"    // openai, openai-compatible
	_ "github.com/switchyard/switchyard/internal/provider/vertex"    // vertex
)

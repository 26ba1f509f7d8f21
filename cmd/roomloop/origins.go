package main

import (
	"fmt"
	"strings"

	"github.com/roomloop/roomloop/api"
)

// originHelp ends every refusal of -allowed-origins: what a valid value
// looks like.
const originHelp = "write scheme://host[:port], e.g. "

// parseOrigins reads -allowed-origins: comma-separated origins as browsers
// send them in the Origin header, scheme http or https, a host and an
// optional port, nothing else. Spaces around each one are trimmed. An empty
// flag means none. The server compares them with the Origin header exactly
// (case-insensitively), so anything a browser never sends (a path, a
// trailing slash, a wildcard, a default port) could never match, and is
// refused here instead of failing silently later.
func parseOrigins(flagValue string) ([]string, error) {
	if strings.TrimSpace(flagValue) == "" {
		return nil, nil
	}
	var origins []string
	for s := range strings.SplitSeq(flagValue, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			return nil, fmt.Errorf("-allowed-origins: empty origin in %q (a stray comma?); %shttp://localhost:8000",
				flagValue, originHelp)
		}
		if err := api.ValidateOrigin(s); err != nil {
			return nil, fmt.Errorf("-allowed-origins: %w", err)
		}
		origins = append(origins, s)
	}
	return origins, nil
}

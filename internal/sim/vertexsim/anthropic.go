package vertexsim

import (
	"net/http"
)

func (s *server) rawPredict(w http.ResponseWriter, r *http.Request, model string, body []byte, stream bool) {
	writeStatus(w, http.StatusNotImplemented, "rawPredict is not simulated yet", 0)
}

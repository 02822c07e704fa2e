package bedrocksim

import (
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/switchyard/switchyard/internal/sim"
)

// errorNamespaces are the x-amzn-ErrorType suffixes Bedrock sends.
const coralSuffix = ":http://internal.amazon.com/coral/com.amazon.coral.service/"

// writeError answers as Bedrock does: status, x-amzn-ErrorType and {"message"}.
func writeError(w http.ResponseWriter, status int, name, message string) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Amzn-Errortype", name+coralSuffix)
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"message": message})
}

func validation(w http.ResponseWriter, message string) {
	writeError(w, http.StatusBadRequest, "ValidationException", message)
}

// faultNames are the exceptions injected faults answer with, by status.
var faultNames = map[int]string{
	http.StatusBadRequest:          "ValidationException",
	http.StatusForbidden:           "AccessDeniedException",
	http.StatusNotFound:            "ResourceNotFoundException",
	http.StatusRequestTimeout:      "ModelTimeoutException",
	424:                            "ModelErrorException",
	http.StatusTooManyRequests:     "ThrottlingException",
	http.StatusInternalServerError: "InternalServerException",
	http.StatusServiceUnavailable:  "ServiceUnavailableException",
}

func writeFault(w http.ResponseWriter, f *sim.Fault) {
	name := faultNames[f.Status]
	if name == "" {
		name = "InternalServerException"
	}
	msg := f.Message
	if f.Status == http.StatusTooManyRequests {
		msg = "Too many requests, please wait before trying again. (simulated)"
	}
	if f.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(max(1, int(f.RetryAfter.Seconds()+0.5))))
	}
	writeError(w, f.Status, name, msg)
}

package control

import (
	"fmt"
	"net/http"
)

// Error codes of the REST API. Each has one HTTP status (codeStatus); a
// client can rely on both.
const (
	CodeMissingToken          = "MissingToken"          // 401: no Authorization: Bearer header
	CodeInvalidToken          = "InvalidToken"          // 403: a token that matches none
	CodeInvalidArgument       = "InvalidArgument"       // 400: a body or parameter that is not valid; errors lists the fields
	CodeInvalidIfMatchVersion = "InvalidIfMatchVersion" // 400: If-Match missing or not a version
	CodeNoSuchResource        = "NoSuchResource"        // 404
	CodeAlreadyExists         = "AlreadyExists"         // 409: POST of an id that exists
	CodeResourceInUse         = "ResourceInUse"         // 409: DELETE of something still referenced
	CodePreconditionFailed    = "PreconditionFailed"    // 412: If-Match is not the current version
	CodeEntityTooLarge        = "EntityTooLarge"        // 413: a body over the limit
	CodeInternalError         = "InternalError"         // 500
)

var codeStatus = map[string]int{
	CodeMissingToken:          http.StatusUnauthorized,
	CodeInvalidToken:          http.StatusForbidden,
	CodeInvalidArgument:       http.StatusBadRequest,
	CodeInvalidIfMatchVersion: http.StatusBadRequest,
	CodeNoSuchResource:        http.StatusNotFound,
	CodeAlreadyExists:         http.StatusConflict,
	CodeResourceInUse:         http.StatusConflict,
	CodePreconditionFailed:    http.StatusPreconditionFailed,
	CodeEntityTooLarge:        http.StatusRequestEntityTooLarge,
	CodeInternalError:         http.StatusInternalServerError,
}

// APIError is the body of every error response of the REST API.
type APIError struct {
	Code    string       `json:"code"`
	Message string       `json:"message"`
	Errors  []FieldError `json:"errors,omitempty"` // validation problems only
}

// FieldError is one validation problem: the field path (as the config
// validator writes it, e.g. distributions[0].defaultCacheBehavior.targetOriginId)
// and what is wrong.
type FieldError struct {
	Path    string `json:"path"`
	Message string `json:"message"`
}

func (e *APIError) Error() string { return e.Code + ": " + e.Message }

// Status returns the HTTP status of the error's code.
func (e *APIError) Status() int {
	if s, ok := codeStatus[e.Code]; ok {
		return s
	}
	return http.StatusInternalServerError
}

func apiErr(code, format string, args ...any) *APIError {
	return &APIError{Code: code, Message: fmt.Sprintf(format, args...)}
}

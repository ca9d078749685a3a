package web

import (
	"net/http"
	"strings"
)

// apiMethods answers a wrong method on an API path with a JSON 405 and
// its Allow header, like every other API error (the mux alone answers in
// plain text). The patterns without a method are less specific than the
// routes, so they only catch what no route takes.
func (s *Server) apiMethods(mux *http.ServeMux) {
	for path, allow := range map[string]string{
		"/api/v1/reports":                 "GET, HEAD, POST",
		"/api/v1/reports/{id}":            "GET, HEAD",
		"/api/v1/reports/{id}/evidence":   "GET, HEAD",
		"/api/v1/stats":                   "GET, HEAD",
		"/api/v1/campaigns":               "GET, HEAD",
		"/api/v1/campaigns/{id}":          "GET, HEAD",
		"/api/openapi.yaml":               "GET, HEAD",
		"/api/v1/node":                    "GET, HEAD",
		"/api/v1/statistics":              "GET, HEAD",
		"/api/v1/campaigns/{id}/case":     "GET, HEAD, POST",
		"/api/v1/campaigns/{id}/referral": "POST",
		"/api/v1/campaigns/{id}/merge":    "POST",
		"/api/v1/campaigns/{id}/evidence": "GET, HEAD",
	} {
		mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Allow", allow)
			apiError(w, http.StatusMethodNotAllowed, "method-not-allowed", r.Method+" is not allowed here; use "+allow)
		})
	}
	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		apiError(w, http.StatusNotFound, "not-found", "no such API call: see /api/openapi.yaml")
	})
}

// noListing refuses directory listings of the static files.
func noListing(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "" || strings.HasSuffix(r.URL.Path, "/") {
			http.NotFound(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

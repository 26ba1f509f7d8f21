package serve

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestMetricsAndAPI starts roomloop with its metrics on and the HTTP API,
// publishes once over the API, and stops it: the scraper and the admin
// listener stop with the server.
func TestMetricsAndAPI(t *testing.T) {
	s, err := Start(Config{Impl: RoomloopMetrics, Addr: "127.0.0.1:0", API: true})
	if err != nil {
		t.Fatal(err)
	}
	admin := s.(roomloopServer).AdminAddr()
	if admin == "" {
		t.Fatal("no admin address")
	}
	req, _ := http.NewRequest(http.MethodPost, "http://"+admin+"/api/publish", strings.NewReader(`{"room":"r","event":"e"}`))
	req.Header.Set("Authorization", "Bearer "+APIKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), `"delivered":0`) {
		t.Errorf("publish: %s %s", resp.Status, b)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := http.Get("http://" + admin + "/api/stats"); err == nil {
		t.Error("the admin listener still answers after Close")
	}
}

// TestNoExtras checks that plain roomloop serves no admin address.
func TestNoExtras(t *testing.T) {
	s, err := Start(Config{Impl: Roomloop, Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if a := s.(roomloopServer).AdminAddr(); a != "" {
		t.Errorf("AdminAddr = %q, want none", a)
	}
}

package main

import (
	"strings"
	"testing"
)

// TestPeerURLRefusesCredentials: a peer's URL with a user name or
// password is refused, and the error does not print them back (peer
// list and show print the stored URL; tenth review, finding 9).
func TestPeerURLRefusesCredentials(t *testing.T) {
	for _, u := range []string{"http://user:s3cret-pw@127.0.0.1:8963", "https://s3cret-token@de.example.org/accord"} {
		err := checkURL(u)
		if err == nil {
			t.Errorf("%s accepted", u)
			continue
		}
		if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("the refusal prints the secret: %v", err)
		}
	}
	for _, u := range []string{"http://127.0.0.1:8963", "https://de.example.org/accord/"} {
		if err := checkURL(u); err != nil {
			t.Errorf("%s refused: %v", u, err)
		}
	}
}

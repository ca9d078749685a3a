package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/accord-antispam/accord/internal/nodekey"
)

// pinnedKey reads a --key value: the node's public key as `accord node key`
// prints it, its fingerprint as `accord node fingerprint` and the node's
// pages print it ("SHA256:…"), or a file holding either. Anything else is
// a usage error that says so — before, a file name was compared as if it
// were a key, and a genuine bundle was reported as signed by another key.
func pinnedKey(v string) (string, error) {
	v = strings.TrimSpace(v)
	if v == "" || isKeyOrPrint(v) {
		return v, nil
	}
	b, err := os.ReadFile(v)
	if err != nil {
		return "", &exitError{code: 2, err: fmt.Errorf("--key %q is neither a node public key (the base64 line accord node key prints), "+
			"nor its fingerprint (SHA256:…), nor a readable file holding one", v)}
	}
	k := strings.TrimSpace(string(b))
	if !isKeyOrPrint(k) {
		return "", &exitError{code: 2, err: fmt.Errorf("--key %s: the file does not hold a node public key or its fingerprint", v)}
	}
	return k, nil
}

func isKeyOrPrint(v string) bool {
	if strings.HasPrefix(v, "SHA256:") {
		return len(v) == len("SHA256:")+43
	}
	_, err := nodekey.Fingerprint(v)
	return err == nil
}

// pinMatches says whether a signer's public key is the pinned one (by key
// or by fingerprint).
func pinMatches(pin, key string) bool {
	if pin == key {
		return true
	}
	fp, err := nodekey.Fingerprint(key)
	return err == nil && fp == pin
}

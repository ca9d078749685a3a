package spool

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestReadKeepsTheWholeBodyOrNothing(t *testing.T) {
	for _, size := range []int{0, 1, Memory, Memory + 1, 3 * Memory} {
		in := bytes.Repeat([]byte("spam line\n"), size/10+1)[:size]
		b, err := Read(bytes.NewReader(in), int64(size))
		if err != nil {
			t.Fatalf("%d bytes at the limit: %v", size, err)
		}
		if b.Size() != int64(size) {
			t.Fatalf("size %d, want %d", b.Size(), size)
		}
		if (b.file != nil) != (size > Memory) {
			t.Fatalf("%d bytes: on disk %v", size, b.file != nil)
		}
		got, err := b.Bytes()
		if err != nil || !bytes.Equal(got, in) {
			t.Fatalf("%d bytes: read back %d bytes, err %v", size, len(got), err)
		}
		b.Close()
	}
	// One byte over the limit is refused, in memory and on disk.
	for _, size := range []int{100, 2 * Memory} {
		if _, err := Read(strings.NewReader(strings.Repeat("x", size+1)), int64(size)); !errors.Is(err, ErrTooLarge) {
			t.Fatalf("%d+1 bytes: %v, want ErrTooLarge", size, err)
		}
	}
}

func TestMaxBytesErrorIsTooLarge(t *testing.T) {
	rec := httptest.NewRecorder()
	r := http.MaxBytesReader(rec, io.NopCloser(strings.NewReader(strings.Repeat("x", 50))), 10)
	if _, err := Read(r, 100); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("%v, want ErrTooLarge", err)
	}
}

func TestBudgetMakesTheSecondWait(t *testing.T) {
	b := NewBudget(100)
	release, err := b.Admit(context.Background(), 80)
	if err != nil {
		t.Fatal(err)
	}
	// 30 more do not fit while 80 are held.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := b.Admit(ctx, 30); err == nil {
		t.Fatal("admitted past the budget")
	}
	release()
	// A body larger than the whole budget waits for all of it, never forever.
	r2, err := b.Admit(context.Background(), 1000)
	if err != nil {
		t.Fatal(err)
	}
	r2()
}

// A body costs BodyCost times its size: two bodies of half the budget are
// not analysed at once, two of a quarter are.
func TestAdmitBodyCountsWhatABodyHolds(t *testing.T) {
	b := NewBudget(100)
	release, err := b.AdmitBody(context.Background(), 50)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := b.AdmitBody(ctx, 1); err == nil {
		t.Fatal("a second body admitted beside one of half the budget")
	}
	release()
	r1, err := b.AdmitBody(context.Background(), 25)
	if err != nil {
		t.Fatal(err)
	}
	defer r1()
	r2, err := b.AdmitBody(context.Background(), 25)
	if err != nil {
		t.Fatal(err)
	}
	r2()
}

// Package resolve is Accord's single seam for DNS. Every lookup that the
// analysis engine makes (SPF, DKIM keys, DMARC policies, reverse names) goes
// through a Resolver, so that a node can run live, fully offline, or against
// a fixture zone in tests with exactly the same code path.
//
// The Resolver interface has the method set of *net.Resolver, which is also
// what blitiri.com.ar/go/spf expects, so the live resolver is the standard
// library's and any implementation here can be handed to the SPF library as is.
//
// Errors follow the standard library's conventions: a name or record type that
// does not exist is a *net.DNSError with IsNotFound set; a server failure is a
// *net.DNSError with IsTemporary set. Callers (and the libraries they call)
// rely on that to tell "no record" from "try again later".
package resolve

import (
	"context"
	"errors"
	"net"
	"time"
)

// Resolver answers the DNS questions mail authentication asks.
type Resolver interface {
	LookupTXT(ctx context.Context, name string) ([]string, error)
	LookupMX(ctx context.Context, name string) ([]*net.MX, error)
	LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error)
	LookupAddr(ctx context.Context, addr string) ([]string, error)
}

// ErrOffline is returned by the Offline resolver for every lookup.
var ErrOffline = errors.New("resolve: offline: no DNS lookups are made")

// IsOffline reports whether r makes no lookups at all. The analysis engine
// uses it to take results from trusted Authentication-Results header fields
// instead of computing them.
func IsOffline(r Resolver) bool {
	if r == nil {
		return true
	}
	o, ok := r.(interface{ Offline() bool })
	return ok && o.Offline()
}

// Offline is a Resolver that never looks anything up.
type Offline struct{}

// Offline marks the resolver as one that makes no lookups.
func (Offline) Offline() bool { return true }

func offlineErr(name string) error {
	return &net.DNSError{Err: ErrOffline.Error(), Name: name, IsTemporary: true}
}

// LookupTXT fails with an offline error.
func (Offline) LookupTXT(_ context.Context, name string) ([]string, error) {
	return nil, offlineErr(name)
}

// LookupMX fails with an offline error.
func (Offline) LookupMX(_ context.Context, name string) ([]*net.MX, error) {
	return nil, offlineErr(name)
}

// LookupIPAddr fails with an offline error.
func (Offline) LookupIPAddr(_ context.Context, host string) ([]net.IPAddr, error) {
	return nil, offlineErr(host)
}

// LookupAddr fails with an offline error.
func (Offline) LookupAddr(_ context.Context, addr string) ([]string, error) {
	return nil, offlineErr(addr)
}

// Live resolves through the system resolver, bounding every query by Timeout
// (5 seconds when zero) so that a slow DNS server cannot stall an analysis.
type Live struct {
	Resolver *net.Resolver // nil means net.DefaultResolver.
	Timeout  time.Duration
}

func (l Live) r() *net.Resolver {
	if l.Resolver == nil {
		return net.DefaultResolver
	}
	return l.Resolver
}

func (l Live) ctx(ctx context.Context) (context.Context, context.CancelFunc) {
	t := l.Timeout
	if t <= 0 {
		t = 5 * time.Second
	}
	return context.WithTimeout(ctx, t)
}

// LookupTXT looks up TXT records.
func (l Live) LookupTXT(ctx context.Context, name string) ([]string, error) {
	ctx, cancel := l.ctx(ctx)
	defer cancel()
	return l.r().LookupTXT(ctx, name)
}

// LookupMX looks up MX records.
func (l Live) LookupMX(ctx context.Context, name string) ([]*net.MX, error) {
	ctx, cancel := l.ctx(ctx)
	defer cancel()
	return l.r().LookupMX(ctx, name)
}

// LookupIPAddr looks up A and AAAA records.
func (l Live) LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error) {
	ctx, cancel := l.ctx(ctx)
	defer cancel()
	return l.r().LookupIPAddr(ctx, host)
}

// LookupAddr looks up PTR records for an address.
func (l Live) LookupAddr(ctx context.Context, addr string) ([]string, error) {
	ctx, cancel := l.ctx(ctx)
	defer cancel()
	return l.r().LookupAddr(ctx, addr)
}

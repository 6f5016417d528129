package peer

import "testing"

func TestParseSPIFFEID(t *testing.T) {
	good := map[string]SPIFFEID{
		"spiffe://cluster.local/ns/shop/sa/cart": {"cluster.local", "/ns/shop/sa/cart"},
		"spiffe://example.org":                   {"example.org", ""},
	}
	for in, want := range good {
		got, err := ParseSPIFFEID(in)
		if err != nil || got != want {
			t.Errorf("ParseSPIFFEID(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, in := range []string{
		"", "https://cluster.local/ns/a", "spiffe://", "spiffe:///ns", "spiffe://Cluster.Local/ns",
		"spiffe://td/ns//sa", "spiffe://td/ns/../sa", "spiffe://td/ns/",
	} {
		if _, err := ParseSPIFFEID(in); err == nil {
			t.Errorf("ParseSPIFFEID(%q) accepted", in)
		}
	}
}

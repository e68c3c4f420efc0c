package lance

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestManifestName(t *testing.T) {
	tests := []struct {
		scheme NamingScheme
		v      uint64
		want   string
	}{
		{NamingV1, 1, "1.manifest"},
		{NamingV1, 42, "42.manifest"},
		{NamingV2, 1, "18446744073709551614.manifest"},
		{NamingV2, 2, "18446744073709551613.manifest"},
		{NamingV2, 1 << 40, "18446742974197923839.manifest"},
	}
	for _, tt := range tests {
		if got := ManifestName(tt.scheme, tt.v); got != tt.want {
			t.Errorf("ManifestName(%v, %d) = %q, want %q", tt.scheme, tt.v, got, tt.want)
		}
		v, s, ok := ParseManifestName(tt.want)
		if !ok || v != tt.v || s != tt.scheme {
			t.Errorf("ParseManifestName(%q) = %d, %v, %v; want %d, %v, true", tt.want, v, s, ok, tt.v, tt.scheme)
		}
	}
}

func TestParseManifestNameRejects(t *testing.T) {
	for _, name := range []string{
		"",
		".manifest",
		"_latest.manifest",
		"latest_version_hint.json",
		"d9223372036854775809.manifest", // detached
		".tmp_3_0f8fad5b-d9cb-469f-a165-70867728950e",
		".tmp_7.manifest_0f8fad5b",
		"1.manifest-0f8fad5b",
		"0.manifest",
		"18446744073709551615.manifest", // V2 name of version 0
		"-1.manifest",
		"+1.manifest",
		"1x.manifest",
		"99999999999999999999999.manifest",
	} {
		if v, s, ok := ParseManifestName(name); ok {
			t.Errorf("ParseManifestName(%q) = %d, %v, true; want not ok", name, v, s)
		}
	}
}

func TestListVersions(t *testing.T) {
	tests := []struct {
		name    string
		files   []string
		latest  uint64
		scheme  NamingScheme
		wantErr error
	}{
		{"v2", []string{"18446744073709551614.manifest", "18446744073709551613.manifest", ".tmp_3_x", "latest_version_hint.json"}, 2, NamingV2, nil},
		{"v1", []string{"1.manifest", "2.manifest", "10.manifest"}, 10, NamingV1, nil},
		{"empty", []string{".tmp_1_x"}, 0, 0, ErrNotFound},
		{"mixed", []string{"1.manifest", "18446744073709551613.manifest"}, 0, 0, errAny},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			os.MkdirAll(filepath.Join(root, versionsDir), 0o755)
			for _, f := range tt.files {
				os.WriteFile(filepath.Join(root, versionsDir, f), nil, 0o644)
			}
			l, err := listVersions(root)
			if tt.wantErr != nil {
				if err == nil || (tt.wantErr != errAny && !errors.Is(err, tt.wantErr)) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if l.latest != tt.latest || l.scheme != tt.scheme {
				t.Fatalf("latest %d scheme %v, want %d %v", l.latest, l.scheme, tt.latest, tt.scheme)
			}
		})
	}
	if _, err := listVersions(filepath.Join(t.TempDir(), "nope")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing dir: err = %v, want ErrNotFound", err)
	}
}

// errAny marks table rows that expect some error.
var errAny = errors.New("any error")

package objstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Local is the local file system; keys are file paths. Files are created
// exclusively and fsynced with their directory before Close or Put returns.
type Local struct{}

func (Local) URL(key string) string { return key }

func (Local) Get(_ context.Context, key string) ([]byte, error) {
	return os.ReadFile(key)
}

func (Local) GetRange(_ context.Context, key string, off, n int64) ([]byte, error) {
	f, err := os.Open(key)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b := make([]byte, n)
	if _, err := f.ReadAt(b, off); err != nil {
		return nil, fmt.Errorf("read %d bytes at %d of %s: %w", n, off, key, err)
	}
	return b, nil
}

func (Local) Head(_ context.Context, key string) (Info, error) {
	st, err := os.Stat(key)
	if err != nil {
		return Info{}, err
	}
	return Info{Key: key, Size: st.Size(), ModTime: st.ModTime()}, nil
}

func (Local) Put(_ context.Context, key string, data []byte) error {
	tmp, err := stageSynced(key, data)
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, key); err != nil {
		os.Remove(tmp)
		return err
	}
	return syncDir(filepath.Dir(key))
}

// stageSynced writes data, fsynced, to a new temporary file beside key
// (under a name no reader looks at) and returns its path.
func stageSynced(key string, data []byte) (string, error) {
	if err := os.MkdirAll(filepath.Dir(key), 0o755); err != nil {
		return "", err
	}
	f, err := os.CreateTemp(filepath.Dir(key), ".tmp_put_*")
	if err != nil {
		return "", err
	}
	tmp := f.Name()
	f.Close()
	if err := WriteFileSynced(tmp, data, os.O_TRUNC); err != nil {
		os.Remove(tmp)
		return "", err
	}
	return tmp, nil
}

// PutIfAbsent stages the bytes under a name no reader looks at and links
// them to key: link(2) fails with EEXIST if key exists.
func (Local) PutIfAbsent(_ context.Context, key string, data []byte) error {
	tmp, err := stageSynced(key, data)
	if err != nil {
		return err
	}
	err = os.Link(tmp, key)
	os.Remove(tmp)
	if err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("%s: %w", key, ErrExist)
		}
		return err
	}
	return syncDir(filepath.Dir(key))
}

func (Local) Create(_ context.Context, key string) (Upload, error) {
	if err := os.MkdirAll(filepath.Dir(key), 0o755); err != nil {
		return nil, err
	}
	f, err := os.CreateTemp(filepath.Dir(key), ".tmp_create_*")
	if err != nil {
		return nil, err
	}
	return &localUpload{f: f, key: key}, nil
}

func (Local) List(_ context.Context, dir string, fn func(Info) bool) error {
	stop := errors.New("stop")
	err := filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if e.IsDir() {
			return nil
		}
		st, err := e.Info()
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // removed while listing
			}
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if !fn(Info{Key: filepath.ToSlash(rel), Size: st.Size(), ModTime: st.ModTime()}) {
			return stop
		}
		return nil
	})
	if err == stop {
		return nil
	}
	return err
}

func (Local) Delete(_ context.Context, key string) error {
	err := os.Remove(key)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}

// localUpload writes to a temporary file that Close links to the key
// (failing if the key exists), so nothing is visible before Close.
type localUpload struct {
	f   *os.File
	key string
}

func (u *localUpload) Write(b []byte) (int, error) { return u.f.Write(b) }

func (u *localUpload) Close() error {
	tmp := u.f.Name()
	defer os.Remove(tmp)
	err := u.f.Sync()
	if cerr := u.f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		if err = os.Link(tmp, u.key); errors.Is(err, fs.ErrExist) {
			err = fmt.Errorf("%s: %w", u.key, ErrExist)
		}
	}
	if err == nil {
		err = syncDir(filepath.Dir(u.key))
	}
	return err
}

func (u *localUpload) Abort() {
	u.f.Close()
	os.Remove(u.f.Name())
}

// WriteFileSynced opens path for writing with flag added (O_TRUNC,
// O_EXCL ...), writes data and fsyncs it before closing.
func WriteFileSynced(path string, data []byte, flag int) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|flag, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil && strings.Contains(err.Error(), "invalid argument") {
		return nil // file systems that cannot fsync a directory
	}
	return err
}

var _ io.Writer = (*localUpload)(nil)

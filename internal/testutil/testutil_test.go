package testutil

import (
	"crypto/tls"
	"fmt"
	"go/parser"
	"go/token"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// recorder is a testing.TB that records a failure instead of stopping.
type recorder struct {
	testing.TB
	failed string
}

func (r *recorder) Helper() {}
func (r *recorder) Fatalf(format string, args ...any) {
	r.failed = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func TestWaitFor(t *testing.T) {
	var n atomic.Int32
	go func() {
		for i := 0; i < 3; i++ {
			time.Sleep(time.Millisecond)
			n.Add(1)
		}
	}()
	WaitFor(t, 10*time.Second, "three ticks", func() bool { return n.Load() == 3 })

	r := &recorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		WaitFor(r, 20*time.Millisecond, "never", func() bool { return false })
	}()
	<-done
	if !strings.Contains(r.failed, "waiting for never") {
		t.Fatalf("a condition that never holds: failure %q", r.failed)
	}
}

func TestSyncBuffer(t *testing.T) {
	var b SyncBuffer
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < 100; i++ {
			fmt.Fprintf(&b, "%d\n", i)
		}
	}()
	for i := 0; i < 100; i++ {
		_ = b.String()
	}
	<-done
	if got := strings.Count(b.String(), "\n"); got != 100 {
		t.Fatalf("%d lines, want 100", got)
	}
}

func TestTLSCert(t *testing.T) {
	cert, pool := TLSCert(t, "127.0.0.1", "localhost")
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				io.WriteString(c, "hello")
				c.Close()
			}()
		}
	}()
	c, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{RootCAs: pool, ServerName: "localhost"})
	if err != nil {
		t.Fatalf("a client trusting the pool: %v", err)
	}
	b, _ := io.ReadAll(c)
	c.Close()
	if string(b) != "hello" {
		t.Fatalf("read %q", b)
	}
	raw, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	raw.SetDeadline(time.Now().Add(10 * time.Second))
	if err := tls.Client(raw, &tls.Config{ServerName: "localhost"}).Handshake(); err == nil {
		t.Fatal("a client without the pool trusted the certificate")
	}
	raw.Close()
}

// TestNoProductionImports: only _test.go files import testutil.
func TestNoProductionImports(t *testing.T) {
	root := filepath.Join("..", "..")
	self := "github.com/strata-cdn/strata/internal/testutil"
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		f, err := parser.ParseFile(fset, path, src, parser.ImportsOnly)
		if err != nil {
			return nil // not ours to judge here
		}
		for _, im := range f.Imports {
			if p, _ := strconv.Unquote(im.Path.Value); p == self {
				t.Errorf("%s imports %s: test helpers are for _test.go files", path, self)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

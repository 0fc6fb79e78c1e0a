package listener

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/strata-cdn/strata/internal/testutil"
)

// countConn counts the writes that reach the socket.
type countConn struct {
	net.Conn
	writes *atomic.Int64
}

func (c countConn) Write(p []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(p)
}

type countListener struct {
	net.Listener
	writes atomic.Int64
}

func (l *countListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return countConn{c, &l.writes}, nil
}

// tlsPipe is a batchConn over TLS over a synchronous in-memory pipe: a
// write to it blocks until the client reads. raw counts the writes under
// TLS after the handshake; peer closes the client's end of the pipe.
func tlsPipe(t *testing.T) (srv *batchConn, client *tls.Conn, raw *atomic.Int64, peer net.Conn) {
	t.Helper()
	cert, pool := testutil.TLSCert(t, "127.0.0.1")
	a, b := net.Pipe()
	raw = new(atomic.Int64)
	// No session tickets: nothing but what the test writes follows the
	// handshake.
	sc := tls.Server(countConn{a, raw}, &tls.Config{Certificates: []tls.Certificate{cert}, SessionTicketsDisabled: true})
	client = tls.Client(b, &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"})
	errc := make(chan error, 1)
	go func() { errc <- sc.Handshake() }()
	if err := client.Handshake(); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	raw.Store(0)
	srv = newBatchConn(sc, 0)
	t.Cleanup(func() { a.Close(); b.Close(); srv.Close() })
	return srv, client, raw, b
}

// Writes made while the connection is busy go out together: 100 writes,
// a handful of records.
func TestBatchConnGathersWrites(t *testing.T) {
	srv, client, raw, peer := tlsPipe(t)
	var want bytes.Buffer
	wrote := make(chan error, 1)
	go func() {
		for i := range 100 {
			p := []byte(fmt.Sprintf("%03d%s", i, bytes.Repeat([]byte{'a' + byte(i%26)}, 97)))
			want.Write(p)
			if n, err := srv.Write(p); n != len(p) || err != nil {
				wrote <- fmt.Errorf("write %d: %d %v", i, n, err)
				return
			}
		}
		wrote <- nil
	}()
	// Nobody reads yet: the writes must return all the same.
	select {
	case err := <-wrote:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		peer.Close()
		t.Fatal("Write blocked while 10 KB were waiting")
	}
	got := make([]byte, want.Len())
	if _, err := io.ReadFull(client, got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want.Bytes()) {
		t.Fatal("bytes out of order or altered")
	}
	// One record (the first write) may have gone alone; the other 99 are
	// one batch, cut into a few records by TLS's dynamic record sizing.
	if n := raw.Load(); n > 10 {
		t.Fatalf("100 writes made %d socket writes, want at most 10", n)
	}
}

// A viewer that does not read stops the writer once batchMax bytes wait.
func TestBatchConnBackPressure(t *testing.T) {
	srv, client, _, peer := tlsPipe(t)
	const chunk, total = 8 << 10, 8 * batchMax
	var accepted atomic.Int64
	done := make(chan error, 1)
	go func() {
		p := bytes.Repeat([]byte("z"), chunk)
		for accepted.Load() < total {
			if _, err := srv.Write(p); err != nil {
				done <- err
				return
			}
			accepted.Add(chunk)
		}
		done <- nil
	}()
	for deadline := time.Now().Add(10 * time.Second); accepted.Load() < batchMax; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			peer.Close()
			t.Fatalf("only %d bytes accepted with nobody reading, want %d", accepted.Load(), batchMax)
		}
	}
	time.Sleep(50 * time.Millisecond)
	// At most one batch in the pipe and one waiting.
	if n := accepted.Load(); n > 2*(batchMax+chunk) {
		t.Fatalf("accepted %d bytes with nobody reading", n)
	}
	n, err := io.CopyN(io.Discard, client, total)
	if err != nil || n != total {
		t.Fatalf("read %d: %v", n, err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// Close sends what was gathered before it closes.
func TestBatchConnCloseDrains(t *testing.T) {
	srv, client, _, _ := tlsPipe(t)
	want := bytes.Repeat([]byte("0123456789"), 3000)
	closed := make(chan error, 1)
	go func() {
		for p := want; len(p) > 0; p = p[1000:] {
			srv.Write(p[:1000])
		}
		closed <- srv.Close()
	}()
	client.SetReadDeadline(time.Now().Add(10 * time.Second))
	got, err := io.ReadAll(client) // ends at the close_notify
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("read %d of %d bytes: %v", len(got), len(want), err)
	}
	if err := <-closed; err != nil {
		t.Fatalf("Close: %v", err)
	}
	if _, err := srv.Write([]byte("late")); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Write after Close: %v", err)
	}
}

// A write that fails is reported by a later Write, and the connection is
// closed, so the server's reads end too.
func TestBatchConnWriteError(t *testing.T) {
	srv, _, _, peer := tlsPipe(t)
	peer.Close()
	var err error
	for i := 0; i < 1000 && err == nil; i++ {
		_, err = srv.Write([]byte("to nobody"))
		time.Sleep(time.Millisecond)
	}
	if err == nil {
		t.Fatal("writes to a closed peer kept succeeding")
	}
	srv.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, rerr := srv.Read(make([]byte, 1)); rerr == nil || errors.Is(rerr, os.ErrDeadlineExceeded) {
		t.Fatalf("Read after a failed write: %v", rerr)
	}
}

// Over HTTP/2, a response's HEADERS and DATA leave in one socket write,
// not two, and many responses in flight on one connection share writes.
func TestHTTP2GathersResponseWrites(t *testing.T) {
	body := bytes.Repeat([]byte("b"), 1024)
	var cl *countListener
	_, url, client := startOn(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.Write(body)
	}), func(ln net.Listener) net.Listener { cl = &countListener{Listener: ln}; return cl })
	get := func() {
		resp, err := client.Get(url + "/")
		if err != nil {
			t.Error(err)
			return
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || !bytes.Equal(b, body) || resp.Proto != "HTTP/2.0" {
			t.Errorf("%s: %d bytes, %v", resp.Proto, len(b), err)
		}
	}
	get() // the connection, its settings
	const n = 400
	before := cl.writes.Load()
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range n / 8 {
				get()
			}
		}()
	}
	wg.Wait()
	// Without gathering: two writes per response (x/net flushes after the
	// HEADERS and after the DATA).
	w := cl.writes.Load() - before
	t.Logf("%d responses, %d socket writes", n, w)
	if w > n*3/2 {
		t.Fatalf("%d responses took %d socket writes", n, w)
	}
}

// Responses of every size come out whole through the gathering writer,
// on concurrent streams of one connection.
func TestHTTP2BodiesIntact(t *testing.T) {
	_, url, client := start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.URL.Query().Get("n"))
		for i := 0; i < n; i += 1000 {
			fmt.Fprintf(w, "%0999d\n", i) // 1000 bytes each
		}
	}))
	var wg sync.WaitGroup
	for i, n := range []int{0, 1000, 5000, 16000, 17000, 100000, 1000000, 3000000} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := client.Get(url + "/?n=" + strconv.Itoa(n) + "&i=" + strconv.Itoa(i))
			if err != nil {
				t.Error(err)
				return
			}
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil || len(b) != n {
				t.Errorf("n=%d: got %d bytes, %v", n, len(b), err)
				return
			}
			for j := 0; j < n; j += 1000 {
				if want := fmt.Sprintf("%0999d\n", j); string(b[j:j+1000]) != want {
					t.Errorf("n=%d: bytes %d.. are %q", n, j, b[j:j+20])
					return
				}
			}
		}()
	}
	wg.Wait()
}

package h1

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
)

// maxDiscard is how much of an unread request body is discarded after the
// handler returns to keep the connection; with more left it is closed.
const maxDiscard = 256 << 10

// Chunked decoder states.
const (
	chunkSize  = iota // expecting a chunk-size line
	chunkData         // inside chunk data; body.n bytes left
	chunkCRLF         // expecting the CRLF after chunk data
	chunkTrail        // after the last chunk: expecting the trailer section
)

// body is the Request.Body of a request with a Content-Length or chunked
// framing. It is safe for concurrent use; after the handler returns, it is
// closed and every Read fails.
type body struct {
	mu      sync.Mutex
	br      *bufio.Reader
	p       *parser       // limits and scratch for the trailer section
	req     *http.Request // receives the trailers
	w       *response     // nil outside a server (tests): 100-continue and EOF hook
	chunked bool
	n       int64 // fixed: bytes left; chunked: bytes left in the current chunk
	state   int
	err     error // sticky: io.EOF after a complete body
	closed  bool
}

func (b *body) Read(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return 0, errBodyAfterClose
	}
	if b.err != nil {
		return 0, b.err
	}
	if len(p) == 0 {
		return 0, nil
	}
	if b.w != nil && b.w.expectContinue {
		b.w.writeContinue()
	}
	n, err := b.readLocked(p)
	if err != nil {
		b.err = err
		if err == io.EOF {
			if b.w != nil {
				b.w.c.bodyEOF()
			}
		}
	}
	return n, err
}

// Close marks the body closed. The unread rest is dealt with by the server
// after the handler returns.
func (b *body) Close() error {
	b.mu.Lock()
	b.closed = true
	b.mu.Unlock()
	return nil
}

// sawEOF reports whether the body was read to its end.
func (b *body) sawEOF() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.err == io.EOF
}

// finish closes the body for the handler and reports whether the connection
// can carry another request: the body was read to its end, or its rest (at
// most maxDiscard bytes) could be discarded.
func (b *body) finish(discard bool) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	if b.err != nil {
		return b.err == io.EOF
	}
	if !discard || !b.chunked && b.n > maxDiscard {
		return false
	}
	var buf [512]byte
	for total := 0; total <= maxDiscard; {
		n, err := b.readLocked(buf[:])
		total += n
		if err == io.EOF {
			b.err = err
			return true
		}
		if err != nil {
			b.err = err
			return false
		}
	}
	return false
}

func (b *body) readLocked(p []byte) (int, error) {
	if !b.chunked {
		if b.n <= 0 {
			return 0, io.EOF
		}
		if int64(len(p)) > b.n {
			p = p[:b.n]
		}
		n, err := b.br.Read(p)
		b.n -= int64(n)
		if err != nil {
			return n, unexpectedEOF(err)
		}
		if b.n == 0 {
			return n, io.EOF
		}
		return n, nil
	}
	for {
		switch b.state {
		case chunkSize:
			n, err := b.readChunkSize()
			if err != nil {
				return 0, err
			}
			if n == 0 {
				b.state = chunkTrail
			} else {
				b.n, b.state = n, chunkData
			}
		case chunkData:
			if int64(len(p)) > b.n {
				p = p[:b.n]
			}
			n, err := b.br.Read(p)
			b.n -= int64(n)
			if b.n == 0 {
				b.state = chunkCRLF
			}
			if err != nil {
				return n, unexpectedEOF(err)
			}
			if b.state == chunkCRLF && b.br.Buffered() >= 2 {
				// Consume the CRLF now when it costs no read.
				if err := b.readCRLF(); err != nil {
					return n, err
				}
			}
			return n, nil
		case chunkCRLF:
			if err := b.readCRLF(); err != nil {
				return 0, err
			}
		case chunkTrail:
			if err := b.readTrailer(); err != nil {
				return 0, err
			}
			return 0, io.EOF
		}
	}
}

func (b *body) readCRLF() error {
	c1, err := b.br.ReadByte()
	if err != nil {
		return unexpectedEOF(err)
	}
	c2, err := b.br.ReadByte()
	if err != nil {
		return unexpectedEOF(err)
	}
	if c1 != '\r' || c2 != '\n' {
		return errChunkCRLF
	}
	b.state = chunkSize
	return nil
}

// readChunkSize reads `1*HEXDIG [ chunk-ext ] CRLF` (RFC 9112 section 7.1).
func (b *body) readChunkSize() (int64, error) {
	line, err := b.br.ReadSlice('\n')
	if err == bufio.ErrBufferFull || len(line) > maxChunkLine {
		return 0, errChunkLine
	}
	if err != nil {
		return 0, unexpectedEOF(err)
	}
	if len(line) < 2 || line[len(line)-2] != '\r' {
		return 0, errChunkSize // bare LF
	}
	line = line[:len(line)-2]
	var n int64
	i := 0
	for ; i < len(line) && isHex(line[i]); i++ {
		if n >= 1<<58 {
			return 0, errChunkTooLarge
		}
		n = n<<4 | int64(unhex(line[i]))
	}
	if i == 0 {
		return 0, errChunkSize
	}
	if !validChunkExt(line[i:]) {
		return 0, errChunkExt
	}
	return n, nil
}

func unhex(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}

// validChunkExt checks
//
//	chunk-ext = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] )
//	chunk-ext-val = token / quoted-string
func validChunkExt(s []byte) bool {
	i := 0
	ws := func() {
		for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
			i++
		}
	}
	token := func() bool {
		start := i
		for i < len(s) && tokenTable[s[i]] {
			i++
		}
		return i > start
	}
	for i < len(s) {
		ws()
		if i == len(s) || s[i] != ';' {
			return false
		}
		i++
		ws()
		if !token() {
			return false
		}
		ws()
		if i == len(s) {
			return true
		}
		if s[i] == ';' {
			continue
		}
		if s[i] != '=' {
			return false
		}
		i++
		ws()
		if i < len(s) && s[i] == '"' {
			i++
			for {
				if i == len(s) {
					return false
				}
				c := s[i]
				if c == '"' {
					i++
					break
				}
				if c == '\\' {
					i++
					if i == len(s) || !valueTable[s[i]] {
						return false
					}
				} else if !valueTable[c] {
					return false
				}
				i++
			}
		} else if !token() {
			return false
		}
	}
	return true
}

// readTrailer reads the trailer section after the last chunk, as strictly
// as a header section, and merges it into Request.Trailer.
func (b *body) readTrailer() error {
	// Most bodies have no trailer: just the final CRLF.
	if pk, _ := b.br.Peek(2); len(pk) == 2 && pk[0] == '\r' && pk[1] == '\n' {
		b.br.Discard(2)
		return nil
	}
	buf := b.p.scratch[:0]
	lineStart, fields := 0, 0
	for {
		frag, err := b.br.ReadSlice('\n')
		if len(buf)+len(frag) > b.p.maxHeaderBytes {
			b.p.scratch = buf
			return errTrailerTooBig
		}
		buf = append(buf, frag...)
		if err == bufio.ErrBufferFull {
			continue
		}
		if err != nil {
			b.p.scratch = buf
			return unexpectedEOF(err)
		}
		line := buf[lineStart:]
		lineStart = len(buf)
		if len(line) < 2 || line[len(line)-2] != '\r' {
			b.p.scratch = buf
			return errTrailer
		}
		if len(line) == 2 {
			break
		}
		if fields++; fields > b.p.maxHeaders {
			b.p.scratch = buf
			return errTrailerTooBig
		}
	}
	b.p.scratch = buf
	s := string(buf)
	for {
		nl := strings.IndexByte(s, '\n')
		line := s[:nl-1]
		s = s[nl+1:]
		if line == "" {
			return nil
		}
		name, value, rerr := splitField(line)
		if rerr != nil {
			return errTrailer
		}
		key := canonicalKey(name)
		switch key {
		case "Content-Length", "Transfer-Encoding", "Host", "Trailer", "Connection", "Te", "Keep-Alive", "Upgrade", "Expect":
			continue // framing and routing fields are ignored in a trailer (RFC 9110 6.5.1)
		}
		if b.req.Trailer == nil {
			b.req.Trailer = make(http.Header)
		}
		b.req.Trailer[key] = append(b.req.Trailer[key], value)
	}
}

// unexpectedEOF turns io.EOF into io.ErrUnexpectedEOF.
func unexpectedEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// isTimeout reports whether err is a network timeout.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

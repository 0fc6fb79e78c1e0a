// Package h1 is Strata's HTTP/1.x server: a strict, allocation-lean
// replacement for net/http's HTTP/1 connection handling that drives a
// standard http.Handler, so the same handler serves HTTP/1.x here and
// HTTP/2 through net/http.
//
// # Serving a connection
//
//  1. Accept (and, on a tls.Listener, the handshake within
//     ReadHeaderTimeout; a connection whose ALPN protocol is a key of
//     Server.TLSNextProto, such as "h2", is handed to that function). The
//     connection gets pooled 4 KiB bufio buffers.
//  2. Read the request head within ReadHeaderTimeout: as one string when it
//     is already buffered, else line by line into a scratch buffer. Every
//     header value is a substring of that one string.
//  3. Parse it strictly (RFC 9112): CRLF only, no obs-fold, token names, no
//     controls in values, exactly one Host that is a valid authority,
//     unambiguous framing (Content-Length xor a single "chunked"). A refusal
//     is answered with a short text/plain response and Connection: close,
//     reported to Server.OnError, and the connection is closed after a
//     short lingering read.
//  4. Call the handler with a *http.Request filled as net/http fills it and
//     a ResponseWriter that also implements http.Flusher, http.Hijacker,
//     io.ReaderFrom and the http.ResponseController methods. Once the
//     request body is at its end, a one-byte background read watches the
//     connection: a client that goes away cancels the request context.
//  5. Finish the response (Content-Length, chunked, or close-delimited for
//     HTTP/1.0), discard up to 256 KiB of an unread request body, and wait
//     within IdleTimeout for the next request; the pending background read
//     does that waiting.
//
// Differences from net/http: no Content-Type sniffing; no response trailers
// (the Trailer field is dropped like the hop-by-hop fields); responses always
// say HTTP/1.1; Pragma: no-cache is not copied into Cache-Control (net/http's
// HTTP/2 server does not do it either); CONNECT is refused with 501.
package h1

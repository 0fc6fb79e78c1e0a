package config

import "time"

// The defaults of the model, in one place. Validate fills them into a
// configuration; pop.New fills the same ones into options left zero, so a
// PoP built without a validated file behaves as one built from it.
const (
	// DefaultPoPID is pop.id.
	DefaultPoPID = "LOCAL1"
	// DefaultListen is pop.listen.
	DefaultListen = "127.0.0.1:8080"
	// DefaultMemoryCacheSize is pop.memoryCacheSize.
	DefaultMemoryCacheSize = 256 * MiB
	// DefaultMaxObjectSize is pop.maxObjectSize.
	DefaultMaxObjectSize = 64 * MiB
	// DefaultMaxHeaderBytes is pop.maxHeaderBytes.
	DefaultMaxHeaderBytes = 32 * KiB
	// DefaultDiskCacheSize is pop.diskCacheSize.
	DefaultDiskCacheSize = 1 * GiB
	// DefaultReadHeaderTimeout is pop.readHeaderTimeout.
	DefaultReadHeaderTimeout = 10 * time.Second
	// DefaultIdleTimeout is pop.idleTimeout.
	DefaultIdleTimeout = 60 * time.Second
	// DefaultWebSocketIdleTimeout is pop.webSocketIdleTimeout: CloudFront's.
	DefaultWebSocketIdleTimeout = 10 * time.Minute
	// DefaultRequestBodyTimeout is pop.requestBodyTimeout: the longest wait
	// for each read of a viewer's request body (nginx's client_body_timeout).
	DefaultRequestBodyTimeout = 60 * time.Second
	// DefaultViewerWriteTimeout is pop.viewerWriteTimeout: the longest wait
	// for a viewer to take each step of a response (nginx's send_timeout).
	DefaultViewerWriteTimeout = 20 * time.Second
	// DefaultMaxConnectionsPerAddress is pop.maxConnectionsPerAddress.
	DefaultMaxConnectionsPerAddress = 256
	// DefaultMaxConnections is pop.maxConnections.
	DefaultMaxConnections = 50_000
	// DefaultNewConnectionsPerAddress is pop.newConnectionsPerAddress, per
	// second.
	DefaultNewConnectionsPerAddress = 200

	// DefaultCachePolicyTTL is a cache policy's defaultTTL, in seconds (one
	// day), raised to its minTTL.
	DefaultCachePolicyTTL int64 = 86400
	// DefaultCachePolicyMaxTTL is a cache policy's maxTTL, in seconds (one
	// year), raised to its defaultTTL.
	DefaultCachePolicyMaxTTL int64 = 31536000
)

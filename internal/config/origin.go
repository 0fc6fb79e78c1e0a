package config

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
)

// BaseURL returns the URL that requests for this origin are made against,
// "scheme://host[:port]" followed by OriginPath, for a viewer that came over
// viewerScheme ("http" or "https"), according to the origin protocol policy.
// Default ports (80 for http, 443 for https) are left out. For an S3 origin
// it is the bucket's URL on the endpoint (virtual-hosted, or path style).
// It expects a validated origin.
func (o *Origin) BaseURL(viewerScheme string) string {
	if s3 := o.S3OriginConfig; s3 != nil {
		u, err := url.Parse(s3.endpoint())
		if err != nil || u.Host == "" {
			return ""
		}
		if s3.PathStyle {
			return u.Scheme + "://" + u.Host + "/" + s3.Bucket + o.OriginPath
		}
		return u.Scheme + "://" + s3.Bucket + "." + u.Host + o.OriginPath
	}
	c := o.CustomOriginConfig
	if c == nil {
		c = &CustomOriginConfig{}
	}
	scheme := "http"
	switch c.OriginProtocolPolicy {
	case OriginProtocolHTTPSOnly:
		scheme = "https"
	case OriginProtocolMatchViewer:
		if viewerScheme == "https" {
			scheme = "https"
		}
	}
	port := c.HTTPPort
	if scheme == "https" {
		port = c.HTTPSPort
	}
	host := o.DomainName
	if (scheme == "http" && port != 80 || scheme == "https" && port != 443) && port != 0 {
		host = net.JoinHostPort(host, strconv.Itoa(port))
	} else if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	return scheme + "://" + host + o.OriginPath
}

func (s *S3OriginConfig) endpoint() string {
	if s.Endpoint != "" {
		return strings.TrimSuffix(s.Endpoint, "/")
	}
	region := s.Region
	if region == "" {
		region = "us-east-1"
	}
	return "https://s3." + region + ".amazonaws.com"
}

// Credentials returns the access key id and secret key to sign origin
// requests with, reading the environment variables named by AccessKeyIDEnv
// and SecretAccessKeyEnv when the keys are not given literally.
func (a *OriginAccessControl) Credentials() (accessKeyID, secretAccessKey string, err error) {
	accessKeyID, secretAccessKey = a.AccessKeyID, a.SecretAccessKey
	if accessKeyID == "" && a.AccessKeyIDEnv != "" {
		accessKeyID = os.Getenv(a.AccessKeyIDEnv)
		if accessKeyID == "" {
			return "", "", fmt.Errorf("config: environment variable %s (accessKeyIdEnv) is not set", a.AccessKeyIDEnv)
		}
	}
	if secretAccessKey == "" && a.SecretAccessKeyEnv != "" {
		secretAccessKey = os.Getenv(a.SecretAccessKeyEnv)
		if secretAccessKey == "" {
			return "", "", fmt.Errorf("config: environment variable %s (secretAccessKeyEnv) is not set", a.SecretAccessKeyEnv)
		}
	}
	if accessKeyID == "" || secretAccessKey == "" {
		return "", "", errors.New("config: origin access control has no credentials")
	}
	return accessKeyID, secretAccessKey, nil
}

// ParseKey decodes EncodedKey: a PEM "PUBLIC KEY" (PKIX) or "RSA PUBLIC KEY"
// (PKCS #1) block holding an RSA key of 2048 to 4096 bits or an ECDSA P-256
// key. It returns an *rsa.PublicKey or an *ecdsa.PublicKey.
func (k *PublicKey) ParseKey() (crypto.PublicKey, error) {
	block, rest := pem.Decode([]byte(strings.TrimSpace(k.EncodedKey)))
	if block == nil {
		return nil, errors.New("not a PEM block (expected -----BEGIN PUBLIC KEY-----)")
	}
	if len(strings.TrimSpace(string(rest))) > 0 {
		return nil, errors.New("text after the PEM block; give exactly one key")
	}
	var pub any
	var err error
	switch block.Type {
	case "PUBLIC KEY":
		pub, err = x509.ParsePKIXPublicKey(block.Bytes)
	case "RSA PUBLIC KEY":
		pub, err = x509.ParsePKCS1PublicKey(block.Bytes)
	default:
		return nil, fmt.Errorf("PEM block is %q, expected \"PUBLIC KEY\" (never give a private key)", block.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("PEM block does not hold a public key: %v", err)
	}
	switch p := pub.(type) {
	case *rsa.PublicKey:
		if n := p.N.BitLen(); n < 2048 || n > 4096 {
			return nil, fmt.Errorf("RSA key has %d bits, expected 2048 to 4096", n)
		}
		return p, nil
	case *ecdsa.PublicKey:
		if p.Curve != elliptic.P256() {
			return nil, fmt.Errorf("ECDSA key is on %s, expected P-256", p.Curve.Params().Name)
		}
		return p, nil
	}
	return nil, fmt.Errorf("%T keys are not supported, expected RSA or ECDSA P-256", pub)
}

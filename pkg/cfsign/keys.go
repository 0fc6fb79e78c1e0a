package cfsign

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
)

// KeyType names a kind of signing key.
type KeyType string

// The key types CloudFront accepts for signed URLs and signed cookies.
const (
	KeyRSA   KeyType = "rsa"   // RSA 2048
	KeyECDSA KeyType = "ecdsa" // ECDSA P-256
)

// GenerateKey makes a new private key: RSA 2048 bits or ECDSA P-256.
func GenerateKey(t KeyType) (crypto.Signer, error) {
	switch t {
	case KeyRSA, "":
		return rsa.GenerateKey(rand.Reader, 2048)
	case KeyECDSA:
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	}
	return nil, fmt.Errorf("cfsign: unknown key type %q (rsa or ecdsa)", t)
}

// MarshalPrivateKeyPEM encodes a private key in PEM: an RSA key as PKCS#1
// ("RSA PRIVATE KEY", what the AWS SDKs' default loaders read), an ECDSA key
// as PKCS#8 ("PRIVATE KEY").
func MarshalPrivateKeyPEM(key crypto.Signer) ([]byte, error) {
	switch k := key.(type) {
	case *rsa.PrivateKey:
		return pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)}), nil
	case *ecdsa.PrivateKey:
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			return nil, fmt.Errorf("cfsign: %v", err)
		}
		return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
	}
	return nil, fmt.Errorf("cfsign: %T keys are not supported (RSA or ECDSA P-256)", key)
}

// MarshalPublicKeyPEM encodes a public key as a PEM "PUBLIC KEY" block
// (PKIX), the form CloudFront and Strata's configuration take.
func MarshalPublicKeyPEM(pub crypto.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("cfsign: %v", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}

// ParsePrivateKeyPEM reads a private key from PEM: PKCS#1 ("RSA PRIVATE
// KEY"), SEC 1 ("EC PRIVATE KEY", as openssl ecparam writes it, after an
// optional "EC PARAMETERS" block) or PKCS#8 ("PRIVATE KEY"). Encrypted keys
// are refused. The key must be RSA (2048 bits or more) or ECDSA P-256.
func ParsePrivateKeyPEM(data []byte) (crypto.Signer, error) {
	rest := data
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			return nil, errors.New("cfsign: no private key PEM block found")
		}
		var key any
		var err error
		switch block.Type {
		case "EC PARAMETERS":
			continue
		case "RSA PRIVATE KEY":
			key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
		case "EC PRIVATE KEY":
			key, err = x509.ParseECPrivateKey(block.Bytes)
		case "PRIVATE KEY":
			key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
		case "ENCRYPTED PRIVATE KEY":
			return nil, errors.New("cfsign: the private key is encrypted; decrypt it first (openssl pkey -in KEY -out PLAIN)")
		case "PUBLIC KEY", "RSA PUBLIC KEY":
			return nil, errors.New("cfsign: this is a public key; signing needs the private key")
		default:
			return nil, fmt.Errorf("cfsign: PEM block %q is not a private key", block.Type)
		}
		if err != nil {
			return nil, fmt.Errorf("cfsign: %s: %v", block.Type, err)
		}
		signer, ok := key.(crypto.Signer)
		if !ok {
			return nil, fmt.Errorf("cfsign: %T keys are not supported (RSA or ECDSA P-256)", key)
		}
		if err := checkKey(signer); err != nil {
			return nil, err
		}
		return signer, nil
	}
}

// NewKeyID returns a random key pair id in CloudFront's style: 'K' and 13
// capital letters or digits (K2JCJMDEHXQW5F).
func NewKeyID() string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	b := make([]byte, 13)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	id := []byte{'K'}
	for _, c := range b {
		id = append(id, alphabet[int(c)%len(alphabet)])
	}
	return string(id)
}

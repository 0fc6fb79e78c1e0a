package cli

import (
	"crypto"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/strata-cdn/strata/internal/config"
	"github.com/strata-cdn/strata/internal/control/client"
	"github.com/strata-cdn/strata/pkg/cfsign"
)

// signNow is the clock of sign-url and sign-cookie (tests fix it).
var signNow = time.Now

const signURLUsage = `Usage: strata sign-url --key PRIVATE.pem --key-id ID --url URL (--ttl DURATION | --expires TIME) [flags]

Print URL signed as CloudFront signs it (the same URL AWS's SDKs make), for a
distribution whose cache behavior trusts a key group holding the key ID.

A canned policy is used unless the signature needs a custom one: --ip, --start,
a --resource other than the URL, a '*' wildcard in it, or --policy custom.
With a wildcard, the query string the command adds works on every URL the
resource covers.

Times are RFC 3339 (2026-12-01T00:00:00Z), a date (2026-12-01, UTC) or epoch seconds.

Flags:
`

const signCookieUsage = `Usage: strata sign-cookie --key PRIVATE.pem --key-id ID (--url URL | --resource PATTERN) (--ttl DURATION | --expires TIME) [flags]

Print the Set-Cookie header lines of CloudFront signed cookies:
CloudFront-Expires (canned policy) or CloudFront-Policy (custom policy),
CloudFront-Signature, CloudFront-Key-Pair-Id, and CloudFront-Hash-Algorithm
with --hash sha256. A canned policy covers exactly --url; use --resource with
a wildcard (https://cdn.example.com/videos/*) to cover many files.

Flags:
`

const keysUsage = `Usage: strata keys create [--type rsa|ecdsa] [--out DIR] [--id ID] [--name NAME] [--register]

Make a key pair for signed URLs and signed cookies: DIR/private.pem (mode 0600,
keep it with the application that signs) and DIR/public.pem. The public key is
printed in the publicKeys shape of the configuration; add it to a key group
and list the group in a cache behavior's trustedKeyGroups. With --register,
the public key is registered with the control plane instead (as
"strata public-key create" would), before the files are written.

Flags:
`

// signFlags are the flags sign-url and sign-cookie share.
type signFlags struct {
	key, keyID, url, resource string
	expires, start, ip        string
	ttl                       time.Duration
	policy, hash              string
}

func (sf *signFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&sf.key, "key", "", "private key file (PEM: RSA or ECDSA P-256)")
	fs.StringVar(&sf.keyID, "key-id", "", "id of the public key (the Key-Pair-Id), as registered in publicKeys")
	fs.StringVar(&sf.url, "url", "", "the URL to sign (scheme://host/path?query)")
	fs.StringVar(&sf.resource, "resource", "", "the resource the policy covers, with '*' wildcards (default: the URL)")
	fs.StringVar(&sf.expires, "expires", "", "expiry time (exclusive)")
	fs.DurationVar(&sf.ttl, "ttl", 0, "validity from now, e.g. 1h (instead of --expires)")
	fs.StringVar(&sf.start, "start", "", "start of validity (custom policy)")
	fs.StringVar(&sf.ip, "ip", "", "viewer address or CIDR allowed (custom policy), e.g. 192.0.2.0/24")
	fs.StringVar(&sf.policy, "policy", "auto", "auto, canned or custom")
	fs.StringVar(&sf.hash, "hash", "sha1", "digest: sha1 (CloudFront's default) or sha256 (adds Hash-Algorithm=SHA256)")
}

// usageError is a mistake in the command line (exit status 2).
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

// prepare checks the flags and returns the signer and the policy; canned
// reports whether a canned policy is to be used.
func (sf *signFlags) prepare(needURL bool) (signer *cfsign.Signer, p cfsign.Policy, canned bool, err error) {
	switch {
	case sf.key == "":
		return nil, p, false, usagef("--key PRIVATE.pem is required")
	case sf.keyID == "":
		return nil, p, false, usagef("--key-id is required (the id of the public key in the configuration)")
	case needURL && sf.url == "":
		return nil, p, false, usagef("--url is required")
	case sf.url == "" && sf.resource == "":
		return nil, p, false, usagef("--url or --resource is required")
	case sf.expires == "" && sf.ttl == 0:
		return nil, p, false, usagef("--expires TIME or --ttl DURATION is required")
	case sf.expires != "" && sf.ttl != 0:
		return nil, p, false, usagef("give --expires or --ttl, not both")
	case sf.ttl < 0:
		return nil, p, false, usagef("--ttl must be positive")
	}
	for _, u := range []string{sf.url, sf.resource} {
		if u == "" {
			continue
		}
		scheme, _, ok := strings.Cut(u, "://")
		if !ok || scheme == "" {
			return nil, p, false, usagef("%q is not an absolute URL (https://host/path)", u)
		}
	}
	if sf.url != "" && !strings.Contains(sf.url, "*") {
		pu, err := url.Parse(sf.url)
		if err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" {
			return nil, p, false, usagef("--url %q is not an http(s) URL", sf.url)
		}
	}

	now := signNow()
	if sf.ttl > 0 {
		p.Expires = now.Add(sf.ttl)
	} else if p.Expires, err = parseSignTime(sf.expires); err != nil {
		return nil, p, false, usagef("--expires: %v", err)
	}
	if !p.Expires.After(now) {
		return nil, p, false, fmt.Errorf("the expiry %s is not in the future", p.Expires.UTC().Format(time.RFC3339))
	}
	if sf.start != "" {
		if p.Start, err = parseSignTime(sf.start); err != nil {
			return nil, p, false, usagef("--start: %v", err)
		}
	}
	p.SourceIP = sf.ip
	p.Resource = sf.resource
	if p.Resource == "" {
		p.Resource = sf.url
	}
	if err := p.Validate(); err != nil {
		return nil, p, false, errors.New(strings.TrimPrefix(err.Error(), "cfsign: "))
	}

	switch sf.policy {
	case "auto":
		canned = p.IsCanned() && (sf.resource == "" || sf.resource == sf.url)
	case "canned":
		if !p.IsCanned() || (sf.resource != "" && sf.resource != sf.url) {
			return nil, p, false, usagef("a canned policy covers one exact URL until an expiry: --ip, --start, --resource and wildcards need --policy custom")
		}
		canned = true
	case "custom":
	default:
		return nil, p, false, usagef("--policy must be auto, canned or custom")
	}

	var opts []cfsign.Option
	switch strings.ToLower(sf.hash) {
	case "sha1", "sha-1":
	case "sha256", "sha-256":
		opts = append(opts, cfsign.WithHash(crypto.SHA256))
	default:
		return nil, p, false, usagef("--hash must be sha1 or sha256")
	}
	data, err := os.ReadFile(sf.key)
	if err != nil {
		return nil, p, false, err
	}
	key, err := cfsign.ParsePrivateKeyPEM(data)
	if err != nil {
		return nil, p, false, fmt.Errorf("%s: %s", sf.key, strings.TrimPrefix(err.Error(), "cfsign: "))
	}
	if signer, err = cfsign.NewSigner(sf.keyID, key, opts...); err != nil {
		return nil, p, false, errors.New(strings.TrimPrefix(err.Error(), "cfsign: "))
	}
	return signer, p, canned, nil
}

// parseSignTime reads RFC 3339, a date (midnight UTC) or epoch seconds.
func parseSignTime(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t, nil
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil && n > 0 {
		return time.Unix(n, 0), nil
	}
	return time.Time{}, fmt.Errorf("%q is not a time (2026-12-01T00:00:00Z, 2026-12-01 or epoch seconds)", s)
}

// signCommand parses flags common to sign-url and sign-cookie; a single
// positional argument is taken as --url.
func signCommand(name, usage string, args []string, stderr io.Writer, extra func(*flag.FlagSet)) (*signFlags, int, bool) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, usage)
		fs.PrintDefaults()
	}
	sf := &signFlags{}
	sf.register(fs)
	if extra != nil {
		extra(fs)
	}
	pos, err := parseArgs(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, 0, false
		}
		return nil, 2, false
	}
	switch {
	case len(pos) == 1 && sf.url == "":
		sf.url = pos[0]
	case len(pos) > 0:
		fmt.Fprintf(stderr, "strata %s: unexpected argument %q\n", name, pos[0])
		return nil, 2, false
	}
	return sf, 0, true
}

// signFailed prints err and returns the exit status: 2 for a usage error.
func signFailed(name string, err error, stderr io.Writer) int {
	fmt.Fprintf(stderr, "strata %s: %v\n", name, err)
	var ue usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(stderr, "Run \"strata %s -h\" for the flags.\n", name)
		return 2
	}
	return 1
}

// SignURL implements "strata sign-url": it prints a signed URL.
func SignURL(args []string, stdout, stderr io.Writer) int {
	sf, code, ok := signCommand("sign-url", signURLUsage, args, stderr, nil)
	if !ok {
		return code
	}
	signer, p, canned, err := sf.prepare(true)
	if err != nil {
		return signFailed("sign-url", err, stderr)
	}
	var signed string
	if canned {
		signed, err = signer.SignURL(sf.url, p.Expires)
	} else {
		signed, err = signer.SignURLWithPolicy(sf.url, p)
	}
	if err != nil {
		return signFailed("sign-url", errors.New(strings.TrimPrefix(err.Error(), "cfsign: ")), stderr)
	}
	fmt.Fprintln(stdout, signed)
	if strings.Contains(sf.url, "*") {
		fmt.Fprintf(stderr, "note: the URL has a wildcard: add its query string (Policy=...&Signature=...&Key-Pair-Id=...) to any URL that %s covers\n",
			p.Resource)
	}
	return 0
}

// SignCookie implements "strata sign-cookie": it prints the Set-Cookie
// header lines of signed cookies.
func SignCookie(args []string, stdout, stderr io.Writer) int {
	var domain, path string
	var insecure bool
	sf, code, ok := signCommand("sign-cookie", signCookieUsage, args, stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&domain, "domain", "", "Domain attribute of the cookies (default: host-only)")
		fs.StringVar(&path, "path", "/", "Path attribute of the cookies")
		fs.BoolVar(&insecure, "insecure", false, "leave out the Secure attribute (plain-HTTP testing)")
	})
	if !ok {
		return code
	}
	signer, p, canned, err := sf.prepare(false)
	if err != nil {
		return signFailed("sign-cookie", err, stderr)
	}
	var sig *cfsign.Signature
	if canned {
		sig, err = signer.SignCanned(p.Resource, p.Expires)
	} else {
		sig, err = signer.SignCustom(p)
	}
	if err != nil {
		return signFailed("sign-cookie", errors.New(strings.TrimPrefix(err.Error(), "cfsign: ")), stderr)
	}
	cookies := sig.Cookies(cfsign.CookieOptions{Domain: domain, Path: path, Insecure: insecure})
	for _, c := range cookies {
		if err := c.Valid(); err != nil {
			return signFailed("sign-cookie", usagef("%v", err), stderr)
		}
	}
	for _, c := range cookies {
		fmt.Fprintf(stdout, "Set-Cookie: %s\n", c.String())
	}
	return 0
}

// Keys implements "strata keys create".
func Keys(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprint(stderr, strings.TrimSuffix(keysUsage, "\nFlags:\n")+"\n")
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	if args[0] != "create" {
		fmt.Fprintf(stderr, "strata keys: unknown subcommand %q (create)\n", args[0])
		return 2
	}
	fs := flag.NewFlagSet("keys create", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, keysUsage)
		fs.PrintDefaults()
	}
	typ := fs.String("type", "rsa", "key type: rsa (RSA 2048) or ecdsa (P-256)")
	out := fs.String("out", ".", "directory for private.pem and public.pem")
	id := fs.String("id", "", "key id (default: a new one, like K2JCJMDEHXQW5F)")
	name := fs.String("name", "", "display name for the configuration")
	register := fs.Bool("register", false, "register the public key with the control plane (--api, --token, --data-dir)")
	cf := addClientFlags(fs)
	pos, err := parseArgs(fs, args[1:])
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if len(pos) > 0 {
		fmt.Fprintf(stderr, "strata keys create: unexpected argument %q\n", pos[0])
		return 2
	}
	kt := cfsign.KeyType(strings.ToLower(*typ))
	if kt != cfsign.KeyRSA && kt != cfsign.KeyECDSA {
		fmt.Fprintf(stderr, "strata keys create: --type must be rsa or ecdsa\n")
		return 2
	}
	if *id == "" {
		*id = cfsign.NewKeyID()
	} else if !config.ValidID(*id) {
		fmt.Fprintf(stderr, "strata keys create: --id %q is not a valid id (letters, digits, '_' and '-', starting with a letter or digit, at most 128)\n", *id)
		return 2
	}

	privPath, pubPath := filepath.Join(*out, "private.pem"), filepath.Join(*out, "public.pem")
	for _, p := range []string{privPath, pubPath} {
		if _, err := os.Lstat(p); err == nil {
			fmt.Fprintf(stderr, "strata keys create: %s already exists; remove it or choose another --out\n", p)
			return 1
		}
	}
	var api *apiClient
	if *register {
		var ok bool
		if api, ok = cf.client("keys create", stderr); !ok {
			return 2
		}
	}
	key, err := cfsign.GenerateKey(kt)
	if err != nil {
		fmt.Fprintf(stderr, "strata keys create: %v\n", err)
		return 1
	}
	privPEM, err := cfsign.MarshalPrivateKeyPEM(key)
	if err != nil {
		fmt.Fprintf(stderr, "strata keys create: %v\n", err)
		return 1
	}
	pubPEM, err := cfsign.MarshalPublicKeyPEM(key.Public())
	if err != nil {
		fmt.Fprintf(stderr, "strata keys create: %v\n", err)
		return 1
	}
	var registered client.Result
	if api != nil {
		// Registered first: when the control plane refuses the key,
		// no file is left behind.
		pk := config.PublicKey{ID: *id, Name: *name, EncodedKey: string(pubPEM)}
		if registered, err = api.Create(client.PublicKeys, pk); err != nil {
			return printError(stderr, api, err)
		}
	}
	failed := func(err error) int {
		fmt.Fprintf(stderr, "strata keys create: %v\n", err)
		if api != nil {
			fmt.Fprintf(stderr, "the public key %s is registered without its private key; remove it with: strata public-key delete %s\n", *id, *id)
		}
		return 1
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return failed(err)
	}
	if err := writeNewFile(privPath, privPEM, 0o600); err != nil {
		return failed(err)
	}
	if err := writeNewFile(pubPath, pubPEM, 0o644); err != nil {
		os.Remove(privPath)
		return failed(err)
	}
	if api != nil {
		code := publicKeyKind.printChanged(stdout, stderr, cf.asJSON, "registered", registered)
		fmt.Fprintf(stderr, "wrote %s (secret, mode 0600) and %s\n", privPath, pubPath)
		fmt.Fprintf(stderr, "next: put %s in a key group (strata key-group create --file F, with id: signers and items: [%s]),\n", *id, *id)
		fmt.Fprintf(stderr, "trust the group in a cache behavior (trustedKeyGroups: [signers]), then sign:\n")
		fmt.Fprintf(stderr, "  strata sign-url --key %s --key-id %s --url https://HOST/PATH --ttl 1h\n", privPath, *id)
		return code
	}

	var b strings.Builder
	b.WriteString("publicKeys:\n")
	fmt.Fprintf(&b, "  - id: %s\n", *id)
	if *name != "" {
		fmt.Fprintf(&b, "    name: %s\n", strconv.Quote(*name))
	}
	b.WriteString("    encodedKey: |\n")
	for _, line := range strings.Split(strings.TrimSpace(string(pubPEM)), "\n") {
		b.WriteString("      " + line + "\n")
	}
	fmt.Fprint(stdout, b.String())
	fmt.Fprintf(stderr, "wrote %s (secret, mode 0600) and %s\n", privPath, pubPath)
	fmt.Fprintf(stderr, "next: add the key above to the configuration, put %s in a key group (keyGroups: [{id: signers, items: [%s]}]),\n", *id, *id)
	fmt.Fprintf(stderr, "trust the group in a cache behavior (trustedKeyGroups: [signers]), then sign:\n")
	fmt.Fprintf(stderr, "  strata sign-url --key %s --key-id %s --url https://HOST/PATH --ttl 1h\n", privPath, *id)
	return 0
}

// writeNewFile writes data to a file that must not exist yet.
func writeNewFile(path string, data []byte, perm os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(path)
		return err
	}
	return nil
}

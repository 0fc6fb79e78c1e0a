package control

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"github.com/strata-cdn/strata/internal/control/wire"
)

// The embedded NATS server runs in NATS's decentralized-auth ("operator")
// mode: an operator key signs two accounts, the system account and the
// Strata account (which has JetStream), and the Strata account key signs one
// user JWT per identity, carrying its permissions. The server checks each
// connection's JWT against the account and the nonce signature against the
// user's key; there is no password and no anonymous access. A user JWT can
// be issued at any time without touching the server, so a new PoP needs no
// restart of the control plane.

// Role is the kind of a NATS identity.
type Role string

// The roles of the control plane's NATS.
const (
	// RoleControl reads and writes everything of the Strata account: the
	// configuration, invalidations, tokens, PoP states.
	RoleControl Role = "control"
	// RolePoP reads the configuration, consumes invalidations through its
	// own durable consumer, and publishes its own heartbeats and acks.
	RolePoP Role = "pop"
	// RoleDNS reads the configuration and listens to the PoPs' heartbeats
	// (their health): a DNS server on its own machine (strata dns --nats).
	RoleDNS Role = "dns"
)

// NATSKeysFile is the name of the key file in the control plane's data dir.
const NATSKeysFile = "nats-keys.json"

// NATSRevokedFile, beside the key file, counts the revocations of each
// identity (by user name).
const NATSRevokedFile = "nats-revoked.json"

var identityPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$`)

// NATSAuth holds the keys of the embedded NATS server's accounts: who has
// them can issue credentials. Keep them on the control plane's machine.
//
// An identity's user key derives from the account key, its name and the
// number of times it was revoked: issuing the same identity twice gives the
// same key, and revoking it revokes that key in the account JWT and moves
// the identity to a new one.
type NATSAuth struct {
	operator nkeys.KeyPair
	system   nkeys.KeyPair
	account  nkeys.KeyPair

	revokedPath string // "" in memory
	mu          sync.Mutex
	revoked     map[string]int // user name -> revocations
}

// natsKeys is the key file: nkey seeds.
type natsKeys struct {
	Operator string `json:"operator"`
	System   string `json:"systemAccount"`
	Account  string `json:"account"`
}

// NewNATSAuth makes new keys (kept in memory only).
func NewNATSAuth() (*NATSAuth, error) {
	op, err := nkeys.CreateOperator()
	if err != nil {
		return nil, err
	}
	sys, err := nkeys.CreateAccount()
	if err != nil {
		return nil, err
	}
	acc, err := nkeys.CreateAccount()
	if err != nil {
		return nil, err
	}
	return &NATSAuth{operator: op, system: sys, account: acc, revoked: map[string]int{}}, nil
}

// LoadOrCreateNATSAuth reads the key file at path, or creates it (mode
// 0600, its folder 0700) with new keys. created reports new keys.
func LoadOrCreateNATSAuth(path string) (a *NATSAuth, created bool, err error) {
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		a, err := parseNATSKeys(b)
		if err != nil {
			return nil, false, fmt.Errorf("control: nats keys %s: %w", path, err)
		}
		if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
			if err := os.Chmod(path, 0o600); err != nil {
				return nil, false, fmt.Errorf("control: nats keys %s: %w", path, err)
			}
		}
		a.revokedPath = filepath.Join(filepath.Dir(path), NATSRevokedFile)
		if _, err := a.ReloadRevocations(); err != nil {
			return nil, false, err
		}
		return a, false, nil
	case !errors.Is(err, os.ErrNotExist):
		return nil, false, fmt.Errorf("control: nats keys: %w", err)
	}
	a, err = NewNATSAuth()
	if err != nil {
		return nil, false, err
	}
	var k natsKeys
	for _, s := range []struct {
		kp  nkeys.KeyPair
		out *string
	}{{a.operator, &k.Operator}, {a.system, &k.System}, {a.account, &k.Account}} {
		seed, err := s.kp.Seed()
		if err != nil {
			return nil, false, err
		}
		*s.out = string(seed)
	}
	b, _ = json.MarshalIndent(k, "", "  ")
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, false, fmt.Errorf("control: nats keys: %w", err)
	}
	if err := writeFileExcl(path, append(b, '\n')); err != nil {
		return nil, false, fmt.Errorf("control: nats keys: %w", err)
	}
	a.revokedPath = filepath.Join(filepath.Dir(path), NATSRevokedFile)
	os.Remove(a.revokedPath) // revocations of other keys
	return a, true, nil
}

// writeFileExcl creates path with mode 0600; it fails if path exists.
func writeFileExcl(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	return f.Close()
}

func parseNATSKeys(b []byte) (*NATSAuth, error) {
	var k natsKeys
	if err := json.Unmarshal(b, &k); err != nil {
		return nil, err
	}
	a := NATSAuth{revoked: map[string]int{}}
	for _, s := range []struct {
		name   string
		seed   string
		prefix nkeys.PrefixByte
		out    *nkeys.KeyPair
	}{
		{"operator", k.Operator, nkeys.PrefixByteOperator, &a.operator},
		{"systemAccount", k.System, nkeys.PrefixByteAccount, &a.system},
		{"account", k.Account, nkeys.PrefixByteAccount, &a.account},
	} {
		kp, err := nkeys.FromSeed([]byte(s.seed))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", s.name, err)
		}
		if pub, _ := kp.PublicKey(); !nkeys.IsValidPublicKey(pub) || nkeys.Prefix(pub) != s.prefix {
			return nil, fmt.Errorf("%s: not a key of the right kind", s.name)
		}
		*s.out = kp
	}
	return &a, nil
}

// AccountPublicKey is the public key of the Strata account: the name of its
// folder in the JetStream store.
func (a *NATSAuth) AccountPublicKey() string {
	pub, _ := a.account.PublicKey()
	return pub
}

// accountJWTs returns the system and the Strata account JWTs, signed by the
// operator.
func (a *NATSAuth) accountJWTs() (sysPub, sysJWT, accPub, accJWT string, err error) {
	sysPub, _ = a.system.PublicKey()
	sc := jwt.NewAccountClaims(sysPub)
	sc.Name = "SYS"
	if sysJWT, err = sc.Encode(a.operator); err != nil {
		return "", "", "", "", err
	}
	accPub, _ = a.account.PublicKey()
	ac := jwt.NewAccountClaims(accPub)
	ac.Name = "STRATA"
	ac.Limits.JetStreamLimits = jwt.JetStreamLimits{
		MemoryStorage: jwt.NoLimit, DiskStorage: jwt.NoLimit,
		Streams: jwt.NoLimit, Consumer: jwt.NoLimit,
	}
	// Every key an identity had before its latest revocation.
	a.mu.Lock()
	now := time.Now()
	for name, n := range a.revoked {
		for gen := range n {
			kp, err := a.userKey(name, gen)
			if err != nil {
				a.mu.Unlock()
				return "", "", "", "", err
			}
			pub, _ := kp.PublicKey()
			ac.RevokeAt(pub, now)
		}
	}
	a.mu.Unlock()
	if accJWT, err = ac.Encode(a.operator); err != nil {
		return "", "", "", "", err
	}
	return sysPub, sysJWT, accPub, accJWT, nil
}

// userKey is the user key of identity name after gen revocations.
func (a *NATSAuth) userKey(name string, gen int) (nkeys.KeyPair, error) {
	seed, err := a.account.Seed()
	if err != nil {
		return nil, err
	}
	mac := hmac.New(sha256.New, seed)
	fmt.Fprintf(mac, "strata nats user\x00%s\x00%d", name, gen)
	return nkeys.FromRawSeed(nkeys.PrefixByteUser, mac.Sum(nil))
}

// Revoke revokes the credentials of an identity: its current key joins the
// account's revocations (kept in NATSRevokedFile), and credentials issued
// from now on have a new key. A running server learns it from
// ApplyRevocations.
func (a *NATSAuth) Revoke(role Role, id string) error {
	if _, err := Permissions(role, id); err != nil {
		return err
	}
	name := UserName(role, id)
	a.mu.Lock()
	defer a.mu.Unlock()
	a.revoked[name]++
	if a.revokedPath == "" {
		return nil
	}
	b, _ := json.MarshalIndent(a.revoked, "", "  ")
	tmp := a.revokedPath + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		a.revoked[name]--
		return fmt.Errorf("control: nats revocations: %w", err)
	}
	if err := os.Rename(tmp, a.revokedPath); err != nil {
		a.revoked[name]--
		return fmt.Errorf("control: nats revocations: %w", err)
	}
	return nil
}

// ReloadRevocations reads NATSRevokedFile again (another process, the
// CLI, may have revoked an identity); changed reports a difference.
func (a *NATSAuth) ReloadRevocations() (changed bool, err error) {
	if a.revokedPath == "" {
		return false, nil
	}
	m := map[string]int{}
	b, err := os.ReadFile(a.revokedPath)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return false, fmt.Errorf("control: nats revocations: %w", err)
	default:
		if err := json.Unmarshal(b, &m); err != nil {
			return false, fmt.Errorf("control: nats revocations %s: %w", a.revokedPath, err)
		}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	changed = !maps.Equal(m, a.revoked)
	a.revoked = m
	return changed, nil
}

// WatchRevocations reloads NATSRevokedFile every interval until ctx ends,
// and applies each change to srv.
func (a *NATSAuth) WatchRevocations(ctx context.Context, srv *server.Server, interval time.Duration, log *slog.Logger) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		changed, err := a.ReloadRevocations()
		if err == nil && changed {
			err = a.ApplyRevocations(srv)
			if err == nil {
				log.Info("applied NATS credential revocations", "file", a.revokedPath)
			}
		}
		if err != nil {
			log.Warn("NATS credential revocations not applied", "err", err.Error())
		}
	}
}

// ApplyRevocations gives a running server (started with this NATSAuth) the
// account with the current revocations: connections of revoked identities
// are closed, and their credentials refused from now on.
func (a *NATSAuth) ApplyRevocations(srv *server.Server) error {
	_, _, accPub, accJWT, err := a.accountJWTs()
	if err != nil {
		return err
	}
	ac, err := jwt.DecodeAccountClaims(accJWT)
	if err != nil {
		return err
	}
	if r := srv.AccountResolver(); r != nil {
		if err := r.Store(accPub, accJWT); err != nil {
			return err
		}
	}
	acc, err := srv.LookupAccount(accPub)
	if err != nil {
		return err
	}
	srv.UpdateAccountClaims(acc, ac)
	return nil
}

// InboxPrefix is the prefix of the reply subjects of an identity: each
// identity may subscribe to its own only. Every client must connect with
// nats.CustomInboxPrefix(InboxPrefix(role, id)).
func InboxPrefix(role Role, id string) string {
	if role == RoleControl {
		return "_INBOX.control"
	}
	return "_INBOX." + string(role) + "." + id
}

// UserName is the name in the user JWT of an identity: "pop-FRA1".
func UserName(role Role, id string) string {
	if role == RoleControl {
		return "control"
	}
	return string(role) + "-" + id
}

// Permissions are the subjects an identity may publish to and subscribe to;
// everything else is denied. An external NATS cluster's users for Strata
// need the same.
func Permissions(role Role, id string) (jwt.Permissions, error) {
	var p jwt.Permissions
	if role != RoleControl && !identityPattern.MatchString(id) {
		return p, fmt.Errorf("control: nats: %s id %q: letters, digits, - and _ only (at most 128)", role, id)
	}
	inbox := InboxPrefix(role, id) + ".>"
	readConfig := func() {
		for _, b := range wire.ConfigBuckets {
			stream := "KV_" + b
			p.Pub.Allow.Add(
				"$JS.API.STREAM.INFO."+stream,          // jetstream.KeyValue
				"$JS.API.CONSUMER.CREATE."+stream+".>", // the watcher's ordered consumer
				"$JS.API.CONSUMER.DELETE."+stream+".>", // ...which it deletes when it stops
				"$JS.FC."+stream+".>",                  // its flow-control replies
			)
		}
	}
	switch role {
	case RoleControl:
		p.Pub.Allow.Add(">")
		p.Sub.Allow.Add(">")
		return p, nil
	case RolePoP:
		readConfig()
		stream, durable := wire.StreamInvalidations, wire.PoPConsumer(id)
		p.Pub.Allow.Add(
			"$JS.API.STREAM.INFO."+stream,
			"$JS.API.CONSUMER.CREATE."+stream+"."+durable,
			"$JS.API.CONSUMER.CREATE."+stream+"."+durable+".>",
			"$JS.API.CONSUMER.INFO."+stream+"."+durable,
			"$JS.API.CONSUMER.MSG.NEXT."+stream+"."+durable,
			"$JS.ACK."+stream+"."+durable+".>",
			wire.SubjectHeartbeat+"."+id,
			wire.SubjectAck+"."+id,
		)
	case RoleDNS:
		readConfig()
		p.Sub.Allow.Add(wire.SubjectHeartbeat + ".*")
	default:
		return p, fmt.Errorf("control: nats: unknown role %q", role)
	}
	p.Sub.Allow.Add(inbox)
	return p, nil
}

// UserJWT issues the credentials of an identity: a user JWT signed by the
// Strata account, and the user's nkey seed. They do not expire; Revoke
// ends them.
func (a *NATSAuth) UserJWT(role Role, id string) (userJWT string, seed []byte, err error) {
	perms, err := Permissions(role, id)
	if err != nil {
		return "", nil, err
	}
	name := UserName(role, id)
	a.mu.Lock()
	gen := a.revoked[name]
	a.mu.Unlock()
	kp, err := a.userKey(name, gen)
	if err != nil {
		return "", nil, err
	}
	pub, _ := kp.PublicKey()
	uc := jwt.NewUserClaims(pub)
	uc.Name = name
	uc.Permissions = perms
	uc.Tags.Add("strata-role:"+string(role), "strata-id:"+strings.ToLower(id))
	if userJWT, err = uc.Encode(a.account); err != nil {
		return "", nil, err
	}
	if seed, err = kp.Seed(); err != nil {
		return "", nil, err
	}
	return userJWT, seed, nil
}

// Creds issues the credentials of an identity as a NATS credentials file
// (what nats.UserCredentials and the nats CLI read).
func (a *NATSAuth) Creds(role Role, id string) ([]byte, error) {
	userJWT, seed, err := a.UserJWT(role, id)
	if err != nil {
		return nil, err
	}
	return jwt.FormatUserConfig(userJWT, seed)
}

// WriteCreds writes the credentials of an identity to path (mode 0600),
// unless the file exists: created reports a new file.
func (a *NATSAuth) WriteCreds(path string, role Role, id string) (created bool, err error) {
	if _, err := os.Stat(path); err == nil {
		return false, nil
	}
	b, err := a.Creds(role, id)
	if err != nil {
		return false, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return false, err
	}
	if err := writeFileExcl(path, b); err != nil {
		return false, err
	}
	return true, nil
}

// ConnectOptions are the nats.Connect options of an identity, with
// credentials issued in memory: for the processes that hold the keys.
func (a *NATSAuth) ConnectOptions(role Role, id string) ([]nats.Option, error) {
	userJWT, seed, err := a.UserJWT(role, id)
	if err != nil {
		return nil, err
	}
	return []nats.Option{
		nats.UserJWTAndSeed(userJWT, string(seed)),
		nats.CustomInboxPrefix(InboxPrefix(role, id)),
		nats.Name("strata-" + UserName(role, id)),
	}, nil
}

// CredsIdentity reads the role and id of a credentials file that Creds
// made, so that a PoP can tell it was given another PoP's file.
func CredsIdentity(b []byte) (role Role, id string, err error) {
	tok, err := jwt.ParseDecoratedJWT(b)
	if err != nil {
		return "", "", err
	}
	uc, err := jwt.DecodeUserClaims(tok)
	if err != nil {
		return "", "", err
	}
	r, i, ok := strings.Cut(uc.Name, "-")
	if uc.Name == "control" {
		return RoleControl, "", nil
	}
	if !ok {
		return "", "", fmt.Errorf("user %q is not a Strata identity", uc.Name)
	}
	return Role(r), i, nil
}

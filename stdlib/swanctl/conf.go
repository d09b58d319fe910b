package swanctl

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/vicish/vicish/internal/readfile"
	"github.com/vicish/vicish/internal/settings"
	"github.com/vicish/vicish/vici"
)

// Kinds of item a swanctl.conf (and the swanctl directory) describes, in
// the order `swanctl --load-all` loads them.
const (
	KindCert      = "cert"      // a file under x509*/ or pubkey/: load-cert
	KindKey       = "key"       // a private key file: load-key
	KindToken     = "token"     // secrets.token*: load-token
	KindShared    = "secret"    // secrets.ike*/eap*/xauth*/ntlm*/ppk*: load-shared
	KindAuthority = "authority" // authorities.<name>: load-authority
	KindPool      = "pool"      // pools.<name>: load-pool
	KindConn      = "conn"      // connections.<name>: load-conn
)

// Item is one thing to load: its kind, its name (a connection, pool or
// authority name, a secrets section name, or a credential file's path
// relative to the swanctl directory) and the request body for its load
// command. Err is set, and Body nil, when the file names the item but it
// cannot be loaded (a missing certificate file, a secret without value…).
type Item struct {
	Kind string
	Name string
	Body *vici.Message
	Err  error

	// DER is a certificate's DER encoding (compared with list-certs).
	DER []byte
	// KeyID is a private key's id as the daemon computes it, when it could
	// be computed locally; "" otherwise.
	KeyID string
}

// Conf is a swanctl.conf translated into VICI requests, as swanctl does.
type Conf struct {
	Path  string // the swanctl.conf that was read
	Dir   string // the swanctl directory: Path's directory
	Items []Item // in load order: certs, keys, tokens, secrets, authorities, pools, conns

	// Secrets are the secret values the configuration gives: the private
	// keys it loads (unencrypted DER or PEM, as sent), and shared secrets,
	// key file passphrases and token PINs (every secret* and pin setting
	// under secrets) as written and, for 0x/0s values, decoded. A host
	// that redacts secrets learns them here.
	Secrets []string
}

// ByKind returns the items of one kind, in order.
func (c *Conf) ByKind(kind string) []Item {
	var out []Item
	for _, it := range c.Items {
		if it.Kind == kind {
			out = append(out, it)
		}
	}
	return out
}

// loadConf reads the swanctl.conf at path (or path/swanctl.conf if path is a
// directory) with its includes, and the credential files of its directory,
// and translates everything into VICI request bodies the way swanctl's
// --load-all does.
//
// Every file is read with readfile.Read: only regular files (a fifo or a
// device is refused at once); configuration files at most
// readfile.DefaultLimit bytes, credential files at most
// MaxCredentialSize. Loading stops with an error wrapping ctx's cause when
// ctx ends.
func loadConf(ctx context.Context, path string) (*Conf, error) {
	if path == "" {
		return nil, errors.New("no path given: name a swanctl.conf or the swanctl directory holding it")
	}
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		path = filepath.Join(path, "swanctl.conf")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	s, err := settings.ParseFile(ctx, abs)
	if err != nil {
		return nil, err
	}
	c := &Conf{Path: abs, Dir: filepath.Dir(abs)}
	c.addCerts()
	c.addKeys(s)
	c.addSecrets(s)
	c.addSecretValues(s)
	c.addAuthorities(s)
	c.addPools(s)
	if err := c.addConns(ctx, s); err != nil {
		return nil, err
	}
	return c, nil
}

// certDirs are the directories swanctl loads certificates from, with the
// type and flag it sends (load_creds.c, vici_cert_info.c).
var certDirs = []struct{ dir, typ, flag string }{
	{"x509", "X509", "NONE"},
	{"x509ca", "X509", "CA"},
	{"x509ocsp", "X509", "OCSP"},
	{"x509aa", "X509", "AA"},
	{"x509ac", "X509_AC", ""},
	{"x509crl", "X509_CRL", ""},
	{"pubkey", "PUBKEY", ""},
}

// keyDirs are the private key directories and the load-key type swanctl
// uses for them.
var keyDirs = []struct{ dir, typ string }{
	{"private", "any"},
	{"rsa", "rsa"},
	{"ecdsa", "ecdsa"},
	{"bliss", "bliss"},
	{"pkcs8", "any"},
}

// MaxCredentialSize is the size limit of a certificate or key file: far
// above real ones, and each goes to the daemon as one VICI value, which
// holds at most 64 KiB anyway.
const MaxCredentialSize = 1 << 20

// readFile reads a credential file the configuration names.
func readFile(path string) ([]byte, error) { return readfile.Read(path, MaxCredentialSize) }

// regularFiles lists the regular files directly in dir, sorted; a missing
// directory has none.
func regularFiles(dir string) []string {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range entries {
		p := filepath.Join(dir, e.Name())
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
			out = append(out, p)
		}
	}
	slices.Sort(out)
	return out
}

func (c *Conf) rel(p string) string {
	if r, err := filepath.Rel(c.Dir, p); err == nil {
		return r
	}
	return p
}

func (c *Conf) addCerts() {
	for _, d := range certDirs {
		for _, p := range regularFiles(filepath.Join(c.Dir, d.dir)) {
			it := Item{Kind: KindCert, Name: c.rel(p)}
			data, err := readFile(p)
			if err != nil {
				it.Err = err
			} else {
				body := vici.NewMessage().Set("type", d.typ)
				if d.flag != "" {
					body.Set("flag", d.flag)
				}
				it.Body = body.SetBytes("data", data)
				it.DER = toDER(data)
			}
			c.Items = append(c.Items, it)
		}
	}
}

// toDER returns the DER inside a PEM file, or data itself.
func toDER(data []byte) []byte {
	if b, _ := pem.Decode(data); b != nil {
		return b.Bytes
	}
	return data
}

func (c *Conf) addKeys(s *settings.Settings) {
	for _, d := range keyDirs {
		for _, p := range regularFiles(filepath.Join(c.Dir, d.dir)) {
			it := Item{Kind: KindKey, Name: c.rel(p)}
			data, err := readFile(p)
			if err == nil && encryptedKey(data) {
				data, err = decryptWithConfig(s, d.dir, filepath.Base(p), data)
			}
			if err != nil {
				it.Err = err
			} else {
				it.Body = vici.NewMessage().Set("type", d.typ).SetBytes("data", data)
				it.KeyID = keyID(data)
				c.Secrets = append(c.Secrets, string(data))
			}
			c.Items = append(c.Items, it)
		}
	}
	if files := regularFiles(filepath.Join(c.Dir, "pkcs12")); len(files) > 0 {
		for _, p := range files {
			c.Items = append(c.Items, Item{Kind: KindKey, Name: c.rel(p),
				Err: errors.New("PKCS#12 containers are not supported by vicish; unpack them into x509/ and private/")})
		}
	}
}

// decryptWithConfig decrypts an encrypted key file with the passphrases
// its secrets sections give, like swanctl --noprompt does, and returns the
// key as unencrypted PKCS#8 DER.
func decryptWithConfig(s *settings.Settings, dir, name string, data []byte) ([]byte, error) {
	passphrases := keyPassphrases(s, dir, name)
	if len(passphrases) == 0 {
		return nil, fmt.Errorf("the key is encrypted and no secrets section gives its passphrase (add a section secrets.%s-<suffix> with file = %s and secret = <passphrase>)", dir, name)
	}
	for _, pass := range passphrases {
		der, err := decryptKey(data, pass)
		if err == nil {
			return der, nil
		}
		if !errors.Is(err, errWrongPassphrase) {
			return nil, err
		}
	}
	return nil, fmt.Errorf("the configured decryption secret for %s is wrong", name)
}

// sharedTypes are the secrets section prefixes, in the order swanctl tests
// them (load_creds.c load_secret); the first five are shared secrets.
var sharedTypes = []string{"eap", "xauth", "ntlm", "ike", "ppk",
	"private", "rsa", "ecdsa", "bliss", "pkcs8", "pkcs12", "token"}

func (c *Conf) addSecrets(s *settings.Settings) {
	names := s.SectionNames("secrets")
	// Tokens first, as swanctl loads them before shared secrets.
	for _, name := range names {
		if !strings.HasPrefix(name, "token") {
			continue
		}
		body := vici.NewMessage()
		for _, e := range s.KeyValues("secrets." + name) {
			appendValue(body, e.Key, e.Value)
		}
		c.Items = append(c.Items, Item{Kind: KindToken, Name: name, Body: body})
	}
	for _, name := range names {
		typ := ""
		for _, t := range sharedTypes {
			if strings.HasPrefix(name, t) {
				typ = t
				break
			}
		}
		switch typ {
		case "":
			c.Items = append(c.Items, Item{Kind: KindShared, Name: name,
				Err: fmt.Errorf("unsupported secret section %q (a secrets section's name must start with eap, xauth, ntlm, ike, ppk, private, rsa, ecdsa, pkcs8, pkcs12 or token)", name)})
			continue
		case "eap", "xauth", "ntlm", "ike", "ppk":
		default:
			continue // passphrases of key files and token PINs
		}
		it := Item{Kind: KindShared, Name: name}
		value, ok := s.Get("secrets." + name + ".secret")
		if !ok {
			it.Err = fmt.Errorf("secrets.%s has no secret", name)
			c.Items = append(c.Items, it)
			continue
		}
		data, err := decodeBlob(value)
		if err != nil {
			it.Err = fmt.Errorf("secrets.%s.secret: %v", name, err)
			c.Items = append(c.Items, it)
			continue
		}
		var owners []string
		for _, e := range s.KeyValues("secrets." + name) {
			if strings.HasPrefix(e.Key, "id") {
				owners = append(owners, e.Value)
			}
		}
		it.Body = vici.NewMessage().Set("id", name).Set("type", typ).
			SetBytes("data", data).SetList("owners", owners...)
		c.Items = append(c.Items, it)
	}
}

// addSecretValues records the values of the secret* and pin settings of
// every secrets section in c.Secrets.
func (c *Conf) addSecretValues(s *settings.Settings) {
	for _, name := range s.SectionNames("secrets") {
		for _, e := range s.KeyValues("secrets." + name) {
			if !strings.HasPrefix(e.Key, "secret") && e.Key != "pin" {
				continue
			}
			c.Secrets = append(c.Secrets, e.Value)
			if data, err := decodeBlob(e.Value); err == nil && string(data) != e.Value {
				c.Secrets = append(c.Secrets, string(data))
			}
		}
	}
}

// decodeBlob decodes a 0x (hex, ':' separators allowed) or 0s (base64)
// value; any other value is taken as it is.
func decodeBlob(v string) ([]byte, error) {
	if len(v) < 2 || v[0] != '0' {
		return []byte(v), nil
	}
	switch v[1] {
	case 'x', 'X':
		h := strings.ReplaceAll(v[2:], ":", "")
		if len(h)%2 == 1 {
			h = "0" + h
		}
		b, err := hex.DecodeString(h)
		if err != nil {
			return nil, fmt.Errorf("invalid 0x hex value")
		}
		return b, nil
	case 's', 'S':
		b, err := base64.StdEncoding.DecodeString(v[2:])
		if err != nil {
			return nil, fmt.Errorf("invalid 0s base64 value")
		}
		return b, nil
	}
	return []byte(v), nil
}

func (c *Conf) addAuthorities(s *settings.Settings) {
	for _, name := range s.SectionNames("authorities") {
		it := Item{Kind: KindAuthority, Name: name}
		body := vici.NewMessage()
		for _, e := range s.KeyValues("authorities." + name) {
			switch e.Key {
			case "cacert":
				p := e.Value
				if !filepath.IsAbs(p) {
					p = filepath.Join(c.Dir, "x509ca", p)
				}
				data, err := readFile(p)
				if err != nil {
					it.Err = fmt.Errorf("loading ca certificate: %v", err)
				}
				body.Append(vici.Entry{Name: e.Key, Kind: vici.KindValue, Value: data})
			case "crl_uris", "ocsp_uris":
				appendList(body, e.Key, splitList(e.Value))
			default:
				appendValue(body, e.Key, e.Value)
			}
			if it.Err != nil {
				break
			}
		}
		if it.Err == nil {
			it.Body = vici.NewMessage().SetSection(name, body)
		}
		c.Items = append(c.Items, it)
	}
}

func (c *Conf) addPools(s *settings.Settings) {
	for _, name := range s.SectionNames("pools") {
		body := vici.NewMessage()
		for _, e := range s.KeyValues("pools." + name) {
			if e.Key == "addrs" {
				appendValue(body, e.Key, e.Value)
			} else {
				appendList(body, e.Key, splitList(e.Value))
			}
		}
		c.Items = append(c.Items, Item{Kind: KindPool, Name: name,
			Body: vici.NewMessage().SetSection(name, body)})
	}
}

func (c *Conf) addConns(ctx context.Context, s *settings.Settings) error {
	for i, name := range s.SectionNames("connections") {
		if i%1024 == 0 && ctx.Err() != nil {
			return fmt.Errorf("connections.%s: loading stopped: %w", name, context.Cause(ctx))
		}
		it := Item{Kind: KindConn, Name: name}
		body, err := c.connSection(s, "connections."+name)
		if err != nil {
			it.Err = err
		} else {
			it.Body = vici.NewMessage().SetSection(name, body)
		}
		c.Items = append(c.Items, it)
	}
	return nil
}

// listKeys are the connection keys swanctl sends as lists of
// comma-separated values, at any depth (load_conns.c is_list_key).
var listKeys = []string{"local_addrs", "remote_addrs", "proposals",
	"esp_proposals", "ah_proposals", "local_ts", "remote_ts", "vips",
	"pools", "groups", "cert_policy"}

// fileListKeys are the connection keys whose comma-separated values name
// files (or 0x/0s blobs) sent as a list of their contents, with the
// directory relative names are read from.
var fileListKeys = map[string]string{"certs": "x509", "cacerts": "x509ca", "pubkeys": "pubkey"}

func isListKey(key string) bool {
	return slices.ContainsFunc(listKeys, func(k string) bool { return strings.EqualFold(k, key) })
}

// connSection translates the section at path, its settings and then its
// sub-sections, recursively (load_conns.c add_key_values, add_sections).
func (c *Conf) connSection(s *settings.Settings, path string) (*vici.Message, error) {
	m := vici.NewMessage()
	kvs := s.KeyValues(path)
	for _, e := range kvs {
		switch {
		case isListKey(e.Key):
			appendList(m, e.Key, splitList(e.Value))
		case isFileListKey(e.Key):
			blobs, err := c.fileList(e.Key, e.Value)
			if err != nil {
				return nil, fmt.Errorf("%s.%s: %v", path, e.Key, err)
			}
			if blobs == nil {
				blobs = [][]byte{}
			}
			m.Append(vici.Entry{Name: e.Key, Kind: vici.KindList, List: blobs})
		default:
			appendValue(m, e.Key, e.Value)
		}
	}
	var isKey map[string]bool // built only when there are sections
	for _, name := range s.SectionNames(path) {
		sub, err := c.connSection(s, path+"."+name)
		if err != nil {
			return nil, err
		}
		if isKey == nil {
			isKey = make(map[string]bool, len(kvs))
			for _, e := range kvs {
				isKey[e.Key] = true
			}
		}
		if isKey[name] {
			m.SetSection(name, sub) // a section named like a key replaces it
		} else {
			m.Append(vici.Entry{Name: name, Kind: vici.KindSection, Section: sub})
		}
	}
	return m, nil
}

// appendValue and appendList add an entry to a request being built from
// settings, which give each name once: appending, unlike Set, does not
// look for an entry of the same name, so building stays linear.
func appendValue(m *vici.Message, name, value string) {
	m.Append(vici.Entry{Name: name, Kind: vici.KindValue, Value: []byte(value)})
}

func appendList(m *vici.Message, name string, items []string) {
	list := make([][]byte, len(items))
	for i, it := range items {
		list[i] = []byte(it)
	}
	m.Append(vici.Entry{Name: name, Kind: vici.KindList, List: list})
}

func isFileListKey(key string) bool {
	for k := range fileListKeys {
		if strings.EqualFold(k, key) {
			return true
		}
	}
	return false
}

func (c *Conf) fileList(key, value string) ([][]byte, error) {
	blobs := [][]byte{}
	for _, tok := range splitList(value) {
		if len(tok) > 1 && tok[0] == '0' && strings.ContainsRune("xXsS", rune(tok[1])) {
			b, err := decodeBlob(tok)
			if err != nil {
				return nil, err
			}
			blobs = append(blobs, b)
			continue
		}
		p := tok
		// swanctl only prefixes the directory for the lower-case key names.
		if dir, ok := fileListKeys[key]; ok && !filepath.IsAbs(p) {
			p = filepath.Join(c.Dir, dir, p)
		}
		data, err := readFile(p)
		if err != nil {
			return nil, fmt.Errorf("loading %s certificate %q failed: %v", key, p, err)
		}
		blobs = append(blobs, data)
	}
	return blobs, nil
}

// splitList splits a value the way strongSwan's token enumerator does with
// separator ',' and trimmed ' ': empty items are dropped, and an item in
// single or double quotes is taken literally.
func splitList(v string) []string {
	out := []string{}
	pos := 0
	for {
		for pos < len(v) && (v[pos] == ' ' || v[pos] == ',') {
			pos++
		}
		if pos >= len(v) {
			return out
		}
		if q := v[pos]; q == '"' || q == '\'' {
			if end := strings.IndexByte(v[pos+1:], q); end >= 0 {
				out = append(out, v[pos+1:pos+1+end])
				pos += end + 2
				continue
			}
		}
		end := strings.IndexByte(v[pos:], ',')
		var tok string
		if end < 0 {
			tok, pos = v[pos:], len(v)
		} else {
			tok, pos = v[pos:pos+end], pos+end+1
		}
		tok = strings.TrimRight(tok, " ")
		if tok != "" {
			out = append(out, tok)
		}
	}
}

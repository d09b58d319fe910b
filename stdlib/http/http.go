// Package http provides the Starlark "http" module: an outgoing HTTP POST
// for notifications (a chat webhook, an alerting endpoint), and a server a
// script answers requests of (an exporter's /metrics, a webhook receiver):
//
//	http.post(url, body=None, json=None, headers=None, timeout=10)
//	    → http.response(status=200, body="...")
//
// body is a string or bytes sent as is (Content-Type
// application/octet-stream unless headers say otherwise); json is any value
// json.encode accepts, sent as application/json. Give at most one of them.
// headers is a dict of strings. timeout (seconds, a duration or a string
// such as "5s"; 0 for none) bounds the whole exchange. Any HTTP status is a result, not
// an error: check response.status. Proxies are taken from the environment
// (HTTPS_PROXY, NO_PROXY), as other programs do.
//
// http.listen(addr) serves HTTP: the script takes the requests one at a
// time (see Servers.Listen and Server).
//
// Network access is a privilege the host grants (capability.Net): unless
// the module's gate grants it, http.post refuses every call; accepting
// connections is another (capability.Listen), for http.listen.
package http

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	nethttp "net/http"
	"net/url"
	"time"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"

	"github.com/vicish/vicish/capability"
	"github.com/vicish/vicish/registry"
	"github.com/vicish/vicish/starctx"
	"github.com/vicish/vicish/stdlib/json"
)

// MaxResponse is the largest response body post reads.
const MaxResponse = 4 << 20

// DefaultTimeout bounds a post that gives no timeout.
const DefaultTimeout = 10 * time.Second

// NewModule returns an "http" module with its own HTTP client, whose
// servers are closed by servers.Close (nil: only by the script). Unless
// gate grants capability.Net, http.post fails with a
// *capability.DeniedError; http.listen likewise needs capability.Listen.
func NewModule(gate *capability.Gate, servers *Servers) *starlarkstruct.Module {
	return Spec(servers).Build(gate)
}

// Spec is the module's table, with an HTTP client of its own: http.post,
// which needs capability.Net, and http.listen, which needs
// capability.Listen and adds its servers to servers (nil: none tracked).
func Spec(servers *Servers) registry.Module {
	client := &nethttp.Client{Transport: nethttp.DefaultTransport.(*nethttp.Transport).Clone()}
	post := func(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		return doPost(client, thread, b, args, kwargs)
	}
	return registry.Module{
		Name:    "http",
		Summary: "post(url, body= or json=, headers=, timeout=): notify a webhook; listen(addr): serve requests",
		Builtins: []registry.Builtin{
			{Name: "post", Params: registry.MustParams("url, body=None, json=None, headers=None, timeout=10"), Fn: post, Needs: capability.Net,
				Doc: "POST body (str or bytes) or json (any value json.encode takes) to url; return struct(status, body). Any status is a result, not an error."},
			{Name: "listen", Params: registry.MustParams("addr"), Fn: servers.Listen, Needs: capability.Listen,
				Doc: "Listen on addr (\"host:port\"; port 0 picks one) and return an http.server: .addr, .next(), .close(). The script takes the requests one at a time with next() and answers each with reply()."},
			{Name: "server.next", Params: registry.MustParams("timeout=None"),
				Doc: "The next request: struct(method, url, path, query, headers, body, remote) with .reply(); None when timeout seconds pass first. A request taken and not answered gets 500 when the next is taken."},
			{Name: "server.close",
				Doc: "Stop listening; requests still waiting get 503."},
			{Name: "request.reply", Params: registry.MustParams("status=200, body=None, json=None, headers=None"),
				Doc: "Answer the request: body (str: text/plain, bytes) or json (any value json.encode takes), headers a dict of str; once."},
		},
	}
}

// doPost implements http.post: it checks the arguments, sends the request
// and returns the response, or an error naming the URL.
func doPost(client *nethttp.Client, thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		rawURL  string
		bodyV   starlark.Value
		jsonV   starlark.Value
		headers *starlark.Dict
		timeout starctx.Duration
	)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs,
		"url", &rawURL, "body??", &bodyV, "json??", &jsonV, "headers??", &headers, "timeout??", &timeout); err != nil {
		return nil, err
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%s: %q is not an http:// or https:// URL", b.Name(), rawURL)
	}
	payload, contentType, err := encodeBody(thread, bodyV, jsonV)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	if !timeout.Set {
		timeout.D = DefaultTimeout
	}
	ctx, cancel := starctx.WithTimeout(thread, timeout.D)
	defer cancel()
	req, err := newRequest(ctx, u, payload, contentType, headers)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	resp, err := client.Do(req)
	if err == nil {
		var v starlark.Value
		if v, err = readResponse(resp); err == nil {
			return v, nil
		}
	}
	if err := starctx.Interrupted(starctx.From(thread)); err != nil {
		return nil, fmt.Errorf("%s: %s: %w", b.Name(), u.Redacted(), err)
	}
	if ctx.Err() != nil {
		return nil, fmt.Errorf("%s: %s: no response within %v", b.Name(), u.Redacted(), timeout.D)
	}
	var uerr *url.Error
	if errors.As(err, &uerr) {
		err = uerr.Err // url.Error repeats the method and URL
	}
	return nil, fmt.Errorf("%s: %s: %w", b.Name(), u.Redacted(), err)
}

// encodeBody returns the request body given as body= or json= (at most
// one of them) and its content type; neither means an empty body.
func encodeBody(thread *starlark.Thread, bodyV, jsonV starlark.Value) ([]byte, string, error) {
	switch {
	case bodyV != nil && jsonV != nil:
		return nil, "", errors.New("give body or json, not both")
	case bodyV != nil:
		switch s := bodyV.(type) {
		case starlark.String:
			return []byte(s), "application/octet-stream", nil
		case starlark.Bytes:
			return []byte(s), "application/octet-stream", nil
		}
		return nil, "", fmt.Errorf("body: got %s, want string or bytes (use json= for other values)", bodyV.Type())
	case jsonV != nil:
		enc, err := json.Encode(starctx.From(thread), jsonV)
		if err != nil {
			return nil, "", fmt.Errorf("json: %w", err)
		}
		return enc, "application/json", nil
	}
	return nil, "", nil
}

// newRequest builds the POST of payload to u; headers (str: str) are set
// after the content type, so they may replace it.
func newRequest(ctx context.Context, u *url.URL, payload []byte, contentType string, headers *starlark.Dict) (*nethttp.Request, error) {
	req, err := nethttp.NewRequestWithContext(ctx, nethttp.MethodPost, u.String(), bytes.NewReader(payload))
	if err != nil {
		return nil, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if headers != nil {
		for _, kv := range headers.Items() {
			k, ok1 := kv[0].(starlark.String)
			v, ok2 := kv[1].(starlark.String)
			if !ok1 || !ok2 {
				return nil, fmt.Errorf("headers: got %s: %s entry, want string: string", kv[0].Type(), kv[1].Type())
			}
			req.Header.Set(string(k), string(v))
		}
	}
	return req, nil
}

// readResponse reads resp's body, at most MaxResponse bytes, into an
// http.response; a larger body is an error.
func readResponse(resp *nethttp.Response) (starlark.Value, error) {
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxResponse+1))
	if err != nil {
		return nil, err
	}
	if len(body) > MaxResponse {
		return nil, fmt.Errorf("response body larger than %d MiB", MaxResponse>>20)
	}
	return starlarkstruct.FromStringDict(starlark.String("http.response"), starlark.StringDict{
		"status": starlark.MakeInt(resp.StatusCode),
		"body":   starlark.String(body),
	}), nil
}

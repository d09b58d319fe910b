package http

import "github.com/vicish/vicish/stdlib/doc"

// Doc describes the module for help().
func Doc() doc.Module {
	return doc.Module{
		Name:    "http",
		Summary: "post(url, body= or json=, headers=, timeout=): notify a webhook (needs --allow-net)",
		Builtins: []doc.Builtin{
			doc.Fn("post", "url, body=None, json=None, headers=None, timeout=10",
				"POST body (str or bytes) or json (any value json.encode takes) to url; return struct(status, body). Any status is a result, not an error. Needs --allow-net."),
		},
	}
}

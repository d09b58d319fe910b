package redact

import (
	"encoding/hex"
	"strings"
)

// hexForm returns secret in lower-case hex, as redactHex looks for it.
func hexForm(secret string) string { return hex.EncodeToString([]byte(secret)) }

// redactHex returns text with every stretch of hex digits that spells a
// secret replaced by Mark, whatever the case of the digits and with ':'
// allowed between them, as swanctl.conf's 0x values may be written
// (0x68756E74, 0x68:75:6e:74). hexes are the secrets' hexForm.
func redactHex(text string, hexes []string) string {
	var out strings.Builder
	done := 0 // text before done is in out
	for i := 0; i < len(text); {
		if !isHexDigit(text[i]) {
			i++
			continue
		}
		end := i
		for end < len(text) && (isHexDigit(text[end]) || text[end] == ':') {
			end++
		}
		for _, sp := range hexSpans(text[i:end], hexes) {
			out.WriteString(text[done : i+sp[0]])
			out.WriteString(Mark)
			done = i + sp[1]
		}
		i = end
	}
	if done == 0 {
		return text
	}
	out.WriteString(text[done:])
	return out.String()
}

// hexSpans returns the byte spans [start, end) of run (hex digits and
// colons) that hold one of hexes, in order, not overlapping.
func hexSpans(run string, hexes []string) [][2]int {
	if len(run)-strings.Count(run, ":") < 2*minSecret {
		return nil // too short to spell a secret
	}
	// ds is run's digits in lower case; at[d] where digit d is in run
	// (nil when run is all lower-case digits, as an SPI or key id is)
	ds, at := run, []int(nil)
	if strings.ContainsFunc(run, func(r rune) bool { return r == ':' || 'A' <= r && r <= 'F' }) {
		digits := make([]byte, 0, len(run))
		for k := 0; k < len(run); k++ {
			if c := run[k]; c != ':' {
				digits = append(digits, lower(c))
				at = append(at, k)
			}
		}
		ds = string(digits)
	}
	where := func(d int) int {
		if at == nil {
			return d
		}
		return at[d]
	}
	var covered []bool
	for _, h := range hexes {
		for from := 0; from+len(h) <= len(ds); {
			k := strings.Index(ds[from:], h)
			if k < 0 {
				break
			}
			if covered == nil {
				covered = make([]bool, len(ds))
			}
			for d := from + k; d < from+k+len(h); d++ {
				covered[d] = true
			}
			from += k + 1
		}
	}
	var spans [][2]int
	for d := 0; d < len(covered); d++ {
		if !covered[d] {
			continue
		}
		first := d
		for d+1 < len(covered) && covered[d+1] {
			d++
		}
		spans = append(spans, [2]int{where(first), where(d) + 1})
	}
	return spans
}

func isHexDigit(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'F' {
		return c + 'a' - 'A'
	}
	return c
}

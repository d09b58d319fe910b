package starcheck

import "strings"

// nearest returns the name of names closest to name in edit distance,
// if close enough to be a likely misspelling, else "".
func nearest(name string, names []string) string {
	best, bestDist := "", 1+len(name)/2
	for _, n := range names {
		d := distance(strings.ToLower(name), strings.ToLower(n))
		if d < bestDist || d == bestDist && n < best {
			best, bestDist = n, d
		}
	}
	if bestDist > 1+len(name)/2 || best == "" {
		return ""
	}
	return best
}

// distance is the Levenshtein distance of a and b, with the swap of two
// neighbours counting one (Damerau).
func distance(a, b string) int {
	x, y := []rune(a), []rune(b)
	d := make([][]int, len(x)+1)
	for i := range d {
		d[i] = make([]int, len(y)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(x); i++ {
		for j := 1; j <= len(y); j++ {
			cost := 1
			if x[i-1] == y[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && x[i-1] == y[j-2] && x[i-2] == y[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(x)][len(y)]
}

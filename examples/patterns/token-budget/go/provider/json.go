package provider

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"
)

// The wire JSON is read through json.RawMessage maps rather than structs:
// encoding/json matches struct fields case-insensitively, and a field that
// holds the wrong type must add nothing instead of failing the whole event.

type object = map[string]json.RawMessage

// parseObject parses text that must be one JSON object.
func parseObject(text string) (object, bool) {
	trimmed := bytes.TrimSpace([]byte(text))
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return nil, false
	}

	var obj object
	if err := json.Unmarshal(trimmed, &obj); err != nil {
		return nil, false
	}
	return obj, true
}

// asObject reads raw as an object; anything else gives nil.
func asObject(raw json.RawMessage) object {
	if len(raw) == 0 || raw[0] != '{' {
		return nil
	}

	var obj object
	if json.Unmarshal(raw, &obj) != nil {
		return nil
	}
	return obj
}

// asArray reads raw as an array; anything else gives nil.
func asArray(raw json.RawMessage) []json.RawMessage {
	if len(raw) == 0 || raw[0] != '[' {
		return nil
	}

	var arr []json.RawMessage
	if json.Unmarshal(raw, &arr) != nil {
		return nil
	}
	return arr
}

// asString reads raw as a string; null, absent or another type give false.
func asString(raw json.RawMessage) (string, bool) {
	if len(raw) == 0 || raw[0] != '"' {
		return "", false
	}

	var s string
	if json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	return s, true
}

// text reads a text field: a string, or "" for anything else.
func text(raw json.RawMessage) string {
	s, _ := asString(raw)
	return s
}

// asCount reads a token count: a non-negative JSON integer. Fractions,
// negatives, strings and null are "not reported".
func asCount(raw json.RawMessage) (int64, bool) {
	if len(raw) == 0 {
		return 0, false
	}

	n, err := strconv.ParseInt(string(raw), 10, 64)
	if err != nil || n < 0 || n > math.MaxInt64 {
		return 0, false
	}
	return n, true
}

// truthy follows JSON-as-Python truthiness: null, false, 0, "", [] and {}
// are false. OpenAI clients treat a truthy "error" member as a failure.
func truthy(raw json.RawMessage) bool {
	trimmed := bytes.TrimSpace(raw)
	switch string(trimmed) {
	case "", "null", "false", `""`:
		return false
	}

	switch trimmed[0] {
	case '[':
		return len(asArray(trimmed)) > 0
	case '{':
		return len(asObject(trimmed)) > 0
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		f, err := strconv.ParseFloat(string(trimmed), 64)
		return err != nil || f != 0
	}
	return true
}

func ptr(n int64) *int64 { return &n }

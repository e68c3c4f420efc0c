package engine

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/persisting/persisting/lance"
)

// condSpec is the JSON form of a lookup condition (the C API's cond_json):
// {"op":"eq","value":V} | {"op":"range","lo":V,"hi":V,"lo_inclusive":B,"hi_inclusive":B} | {"op":"is_null"}.
type condSpec struct {
	Op          string          `json:"op"`
	Value       json.RawMessage `json:"value"`
	Lo          json.RawMessage `json:"lo"`
	Hi          json.RawMessage `json:"hi"`
	LoInclusive bool            `json:"lo_inclusive"`
	HiInclusive bool            `json:"hi_inclusive"`
}

// ParseCondition reads a lookup condition from its JSON form (see condSpec);
// a malformed one is ErrInvalidArgument.
func ParseCondition(text string) (lance.Cond, error) {
	var spec condSpec
	dec := json.NewDecoder(bytes.NewReader([]byte(text)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&spec); err != nil {
		return lance.Cond{}, fmt.Errorf("%w: condition: %v", ErrInvalidArgument, err)
	}
	value := func(name string, raw json.RawMessage) (any, error) {
		if len(raw) == 0 || string(raw) == "null" {
			return nil, nil
		}
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			return nil, fmt.Errorf("%w: condition %s: %v", ErrInvalidArgument, name, err)
		}
		switch x := v.(type) {
		case json.Number: // integers stay integers: an int64 column compares exactly
			if i, err := x.Int64(); err == nil {
				return i, nil
			}
			return x.Float64()
		case string, bool:
			return x, nil
		}
		return nil, fmt.Errorf("%w: condition %s must be a number, string or bool", ErrInvalidArgument, name)
	}
	switch spec.Op {
	case "eq":
		v, err := value("value", spec.Value)
		if err != nil {
			return lance.Cond{}, err
		}
		if v == nil {
			return lance.Cond{}, fmt.Errorf("%w: eq needs a non-null value (use is_null)", ErrInvalidArgument)
		}
		return lance.CondEqual(v), nil
	case "range":
		lo, err := value("lo", spec.Lo)
		if err != nil {
			return lance.Cond{}, err
		}
		hi, err := value("hi", spec.Hi)
		if err != nil {
			return lance.Cond{}, err
		}
		return lance.CondRange(lo, spec.LoInclusive, hi, spec.HiInclusive), nil
	case "is_null":
		return lance.CondIsNull(), nil
	}
	return lance.Cond{}, fmt.Errorf("%w: condition op %q (want eq, range or is_null)", ErrInvalidArgument, spec.Op)
}

package store

import (
	"reflect"
	"strings"
	"testing"
)

func TestColumnArrays(t *testing.T) {
	cases := []struct {
		name      string
		args      []any
		width     int
		wantCols  []any
		wantTypes []string
		wantErr   string
	}{
		{
			name:      "two rows of each type",
			args:      []any{"a", 1, int64(2), true, "b", 3, int64(4), false},
			width:     4,
			wantCols:  []any{[]string{"a", "b"}, []int64{1, 3}, []int64{2, 4}, []bool{true, false}},
			wantTypes: []string{"text", "bigint", "bigint", "boolean"},
		},
		{
			name:      "int and int64 mix in one column",
			args:      []any{int64(7), 8},
			width:     1,
			wantCols:  []any{[]int64{7, 8}},
			wantTypes: []string{"bigint"},
		},
		{name: "a later row of another type", args: []any{"a", 1, 2, 3}, width: 2, wantErr: "row 2 column 1 holds int where the first row has string"},
		{name: "a type with no array form", args: []any{1.5}, width: 1, wantErr: "column 1 holds float64"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cols, types, err := columnArrays(c.args, c.width)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("err = %v; want it to say %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(cols, c.wantCols) || !reflect.DeepEqual(types, c.wantTypes) {
				t.Fatalf("got %#v %v; want %#v %v", cols, types, c.wantCols, c.wantTypes)
			}
		})
	}
}

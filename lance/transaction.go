package lance

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Operation identifies the arm of the lance.table.Transaction operation
// oneof (its protobuf field number).
type Operation int32

// Operations of lance.table.Transaction (field numbers of the oneof arms).
const (
	OpUnknown            Operation = 0
	OpAppend             Operation = 100
	OpDelete             Operation = 101
	OpOverwrite          Operation = 102
	OpCreateIndex        Operation = 103
	OpRewrite            Operation = 104
	OpMerge              Operation = 105
	OpRestore            Operation = 106
	OpReserveFragments   Operation = 107
	OpUpdate             Operation = 108
	OpProject            Operation = 109
	OpUpdateConfig       Operation = 110
	OpDataReplacement    Operation = 111
	OpUpdateMemWalState  Operation = 112
	OpClone              Operation = 113
	OpUpdateBases        Operation = 114
	OpDataOverlay        Operation = 115
	OpCompositeOperation Operation = 116
)

var opNames = map[Operation]string{
	OpAppend: "Append", OpDelete: "Delete", OpOverwrite: "Overwrite", OpCreateIndex: "CreateIndex",
	OpRewrite: "Rewrite", OpMerge: "Merge", OpRestore: "Restore", OpReserveFragments: "ReserveFragments",
	OpUpdate: "Update", OpProject: "Project", OpUpdateConfig: "UpdateConfig",
	OpDataReplacement: "DataReplacement", OpUpdateMemWalState: "UpdateMemWalState", OpClone: "Clone",
	OpUpdateBases: "UpdateBases", OpDataOverlay: "DataOverlay", OpCompositeOperation: "CompositeOperation",
}

func (o Operation) String() string {
	if s, ok := opNames[o]; ok {
		return s
	}
	return "Operation(" + strconv.Itoa(int(o)) + ")"
}

// Transaction is a lance.table.Transaction. Only Append and Overwrite are
// fully modelled; for other operations Op is set and the body is kept raw.
type Transaction struct {
	ReadVersion uint64
	UUID        string
	Tag         string
	Properties  map[string]string

	Op Operation
	// Fragments of an Append or Overwrite (ids not yet assigned: 0).
	Fragments []Fragment
	// Overwrite only: the new schema (raw lance.file.Field messages),
	// schema metadata and config upserts.
	Schema         [][]byte
	SchemaMetadata map[string][]byte
	ConfigUpsert   map[string]string
	// OpBody is the raw operation message for operations not modelled.
	OpBody []byte
}

// FileName is the name of the transaction file under _transactions/.
func (t *Transaction) FileName() string {
	return strconv.FormatUint(t.ReadVersion, 10) + "-" + t.UUID + ".txn"
}

func encodeTransaction(t *Transaction) []byte {
	var b []byte
	b = appendVarintField(b, 1, t.ReadVersion)
	b = appendStringField(b, 2, t.UUID)
	b = appendStringField(b, 3, t.Tag)
	b = appendStringMap(b, 4, t.Properties)
	var op []byte
	switch t.Op {
	case OpAppend:
		op = appendFragments(op, 1, t.Fragments)
	case OpOverwrite:
		op = appendFragments(op, 1, t.Fragments)
		for _, f := range t.Schema {
			op = appendBytesField(op, 2, f)
		}
		op = appendBytesMap(op, 3, t.SchemaMetadata)
		op = appendStringMap(op, 4, t.ConfigUpsert)
	default:
		op = t.OpBody
	}
	if t.Op != OpUnknown {
		b = appendBytesField(b, protowireNumber(t.Op), op)
	}
	return b
}

func decodeTransaction(b []byte) (*Transaction, error) {
	t := &Transaction{}
	err := walkFields(b, func(v pbValue) error {
		var err error
		var p []byte
		switch {
		case v.num == 1:
			t.ReadVersion, err = v.wantVarint()
		case v.num == 2:
			if p, err = v.wantBytes(); err == nil {
				t.UUID = string(p)
			}
		case v.num == 3:
			if p, err = v.wantBytes(); err == nil {
				t.Tag = string(p)
			}
		case v.num == 4:
			if p, err = v.wantBytes(); err == nil {
				err = addStringMapEntry(&t.Properties, p)
			}
		case v.num >= 100 && v.num < 200:
			if p, err = v.wantBytes(); err != nil {
				return err
			}
			t.Op = Operation(v.num)
			t.OpBody = append([]byte{}, p...)
			t.Fragments, t.Schema, t.SchemaMetadata, t.ConfigUpsert = nil, nil, nil, nil
			if t.Op == OpAppend || t.Op == OpOverwrite {
				err = decodeAppendOrOverwrite(t, p)
			}
		}
		return err
	})
	if err != nil {
		return nil, corruptf("transaction: %v", err)
	}
	return t, nil
}

func decodeAppendOrOverwrite(t *Transaction, b []byte) error {
	return walkFields(b, func(v pbValue) error {
		if v.num > 4 || (t.Op == OpAppend && v.num != 1) {
			return nil
		}
		p, err := v.wantBytes()
		if err != nil {
			return err
		}
		switch v.num {
		case 1:
			f, err := decodeFragment(p)
			if err != nil {
				return err
			}
			t.Fragments = append(t.Fragments, cloneFragment(f))
		case 2:
			t.Schema = append(t.Schema, append([]byte{}, p...))
		case 3:
			return addBytesMapEntry(&t.SchemaMetadata, p)
		case 4:
			return addStringMapEntry(&t.ConfigUpsert, p)
		}
		return nil
	})
}

// writeTransactionFile writes t to <root>/_transactions/<t.FileName()>,
// fsynced (its directory entry too), and returns the file name.
func writeTransactionFile(root string, t *Transaction) (string, error) {
	name := t.FileName()
	dir := joinPath(root, transactionsDir)
	p := joinPath(dir, name)
	if err := writeFileSync(p, encodeTransaction(t)); err != nil {
		removeFile(p)
		return "", fmt.Errorf("lance: write transaction: %w", err)
	}
	if err := syncDir(dir); err != nil {
		return "", fmt.Errorf("lance: sync %s: %w", dir, err)
	}
	return name, nil
}

// loadTransaction returns the transaction that produced manifest m: the
// inline section if present, else the transaction file.
func loadTransaction(root string, m *Manifest) (*Transaction, error) {
	if m.InlineTransaction != nil {
		t, err := decodeTransaction(m.InlineTransaction)
		if err == nil || m.TransactionFile == "" {
			return t, err
		}
	}
	if m.TransactionFile == "" {
		return nil, fmt.Errorf("%w: version %d has no transaction", ErrNotFound, m.Version)
	}
	if strings.ContainsAny(m.TransactionFile, `/\`) || m.TransactionFile == ".." {
		return nil, corruptf("version %d: invalid transaction file name %q", m.Version, m.TransactionFile)
	}
	data, err := readFile(joinPath(root, transactionsDir, m.TransactionFile))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%w: version %d: transaction file %s missing", ErrNotFound, m.Version, m.TransactionFile)
		}
		return nil, fmt.Errorf("lance: version %d: %w", m.Version, err)
	}
	return decodeTransaction(data)
}

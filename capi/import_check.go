package main

/*
#include "persisting.h"
*/
import "C"

import (
	"fmt"
	"unicode/utf8"
	"unsafe"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/bitutil"
)

// checkCArray checks a C array tree against its type before Arrow Go's
// importer sees it. The importer trusts its input: wrong buffer or child
// counts, NULL buffers it needs, or offsets that run backwards make it panic
// or, on its error paths, free a child struct the producer owns (a double
// free when the producer releases it). Offsets that point past a child's
// rows, or dictionary indices past the dictionary, would be read by a flush
// in the background. So every rule the C Data Interface sets on a batch is
// checked here, reading the producer's memory without changing it, except
// null_count: beside a NULL validity buffer -1 ("not computed") is set to 0,
// which it means, and beside a bitmap the count is set to the nulls the
// bitmap holds (checkValidity); and an empty buffer's dangling pointer is set
// to NULL (clearDanglingBuffers). Only layouts the bucket can store reach
// this (the schema was checked first); others are refused.
func checkCArray(arr *C.struct_ArrowArray, dt arrow.DataType, path string) error {
	label := path
	if label == "" {
		label = "the batch (its struct array)"
	}
	if arr == nil {
		return fmt.Errorf("%s: the array is NULL", label)
	}
	if arr.release == nil {
		return fmt.Errorf("%s: the array is released (its release callback is NULL)", label)
	}
	length, offset := int64(arr.length), int64(arr.offset)
	if length < 0 || offset < 0 || arr.null_count < -1 || arr.n_buffers < 0 || arr.n_children < 0 {
		return fmt.Errorf("%s: length %d, offset %d, null_count %d, n_buffers %d, n_children %d: none may be negative (null_count may be -1)",
			label, length, offset, int64(arr.null_count), int64(arr.n_buffers), int64(arr.n_children))
	}
	if length > 1<<48 || offset > 1<<48 {
		return fmt.Errorf("%s: length %d or offset %d is beyond any buffer", label, length, offset)
	}
	end := offset + length
	if dt.ID() == arrow.NULL {
		return wantCounts(arr, label, dt, 0, 0)
	}
	buffers := cBuffers(arr)
	if dt.ID() != arrow.DICTIONARY && arr.dictionary != nil {
		return fmt.Errorf("%s: a %s array has a dictionary", label, dt)
	}
	switch t := dt.(type) {
	case *arrow.DictionaryType:
		if err := wantCounts(arr, label, dt, 2, 0); err != nil {
			return err
		}
		if err := checkValidity(arr, buffers, label); err != nil {
			return err
		}
		if arr.dictionary == nil {
			return fmt.Errorf("%s: a dictionary-encoded array without its dictionary", label)
		}
		if err := checkCArray(arr.dictionary, t.ValueType, label+" (dictionary)"); err != nil {
			return err
		}
		width := int64(t.IndexType.(arrow.FixedWidthDataType).Bytes())
		if err := needBuffer(buffers, 1, width*end, label, "indices"); err != nil {
			return err
		}
		return checkIndices(arr, buffers, t.IndexType, int64(arr.dictionary.length), label)
	case *arrow.StringType, *arrow.BinaryType, *arrow.LargeStringType, *arrow.LargeBinaryType:
		if err := wantCounts(arr, label, dt, 3, 0); err != nil {
			return err
		}
		if err := checkValidity(arr, buffers, label); err != nil {
			return err
		}
		last, err := checkOffsets(buffers, offset, length, offsetWidth(dt), label)
		if err != nil {
			return err
		}
		if err := needBuffer(buffers, 2, last, label, "values"); err != nil {
			return err
		}
		if id := dt.ID(); id == arrow.STRING || id == arrow.LARGE_STRING {
			return checkUTF8(buffers, offset, length, offsetWidth(dt), label)
		}
		return nil
	case *arrow.StringViewType, *arrow.BinaryViewType:
		if arr.n_buffers < 3 || arr.n_children != 0 {
			return fmt.Errorf("%s: a %s array has %d buffers and %d children, the C Data Interface gives it at least 3 and 0",
				label, dt, int64(arr.n_buffers), int64(arr.n_children))
		}
		if err := wantCounts(arr, label, dt, int64(arr.n_buffers), 0); err != nil {
			return err
		}
		if err := checkValidity(arr, buffers, label); err != nil {
			return err
		}
		if err := needBuffer(buffers, 1, 16*end, label, "views"); err != nil {
			return err
		}
		return checkViews(arr, buffers, dt.ID() == arrow.STRING_VIEW, label)
	case *arrow.ListType, *arrow.LargeListType, *arrow.MapType:
		if err := wantCounts(arr, label, dt, 2, 1); err != nil {
			return err
		}
		if err := checkValidity(arr, buffers, label); err != nil {
			return err
		}
		last, err := checkOffsets(buffers, offset, length, offsetWidth(dt), label)
		if err != nil {
			return err
		}
		child := cChildren(arr)[0]
		elem := dt.(arrow.ListLikeType).ElemField()
		if err := checkCArray(child, elem.Type, label+"."+elem.Name); err != nil {
			return err
		}
		return childCovers(child, last, label+"."+elem.Name)
	case *arrow.FixedSizeListType:
		if err := wantCounts(arr, label, dt, 1, 1); err != nil {
			return err
		}
		if err := checkValidity(arr, buffers, label); err != nil {
			return err
		}
		child := cChildren(arr)[0]
		if err := checkCArray(child, t.Elem(), label+"."+t.ElemField().Name); err != nil {
			return err
		}
		return childCovers(child, end*int64(t.Len()), label+"."+t.ElemField().Name)
	case *arrow.StructType:
		if err := wantCounts(arr, label, dt, 1, int64(t.NumFields())); err != nil {
			return err
		}
		if err := checkValidity(arr, buffers, label); err != nil {
			return err
		}
		for i, child := range cChildren(arr) {
			f := t.Field(i)
			childPath := f.Name
			if path != "" {
				childPath = path + "." + f.Name
			}
			if err := checkCArray(child, f.Type, childPath); err != nil {
				return err
			}
			if err := childCovers(child, end, childPath); err != nil {
				return err
			}
		}
		return nil
	case arrow.FixedWidthDataType:
		if err := wantCounts(arr, label, dt, 2, 0); err != nil {
			return err
		}
		if err := checkValidity(arr, buffers, label); err != nil {
			return err
		}
		size := int64(t.Bytes()) * end
		if t.ID() == arrow.BOOL {
			size = bitutil.BytesForBits(end)
		}
		return needBuffer(buffers, 1, size, label, "values")
	}
	return fmt.Errorf("%s: arrays of type %s cannot be appended", label, dt)
}

func wantCounts(arr *C.struct_ArrowArray, path string, dt arrow.DataType, buffers, children int64) error {
	if int64(arr.n_buffers) != buffers || int64(arr.n_children) != children {
		return fmt.Errorf("%s: a %s array has %d buffers and %d children, the C Data Interface gives it %d and %d",
			path, dt, int64(arr.n_buffers), int64(arr.n_children), buffers, children)
	}
	if buffers > 0 && arr.buffers == nil {
		return fmt.Errorf("%s: its buffers pointer is NULL", path)
	}
	if children > 0 && arr.children == nil {
		return fmt.Errorf("%s: its children pointer is NULL", path)
	}
	clearDanglingBuffers(arr)
	return nil
}

// minLegalPointer is the lowest address Go's runtime accepts in a pointer
// (runtime.minLegalPointer): it aborts the process ("invalid pointer found
// on stack") when it moves a stack holding a lower one.
const minLegalPointer = 4096

// clearDanglingBuffers sets arr's buffer pointers below minLegalPointer to
// NULL before anything loads them into a Go pointer. Only an empty buffer has
// one: arrow-rs (pylance's to_table(), for one) exports an empty buffer as
// an aligned dangling pointer such as 0x80, where the C Data Interface also
// allows NULL, which the importer reads as the same empty buffer. Addresses
// are read as integers: arr's buffer count was checked by the caller.
func clearDanglingBuffers(arr *C.struct_ArrowArray) {
	if arr.n_buffers <= 0 || arr.buffers == nil {
		return
	}
	addrs := unsafe.Slice((*uintptr)(unsafe.Pointer(arr.buffers)), int(arr.n_buffers))
	for i, a := range addrs {
		if a != 0 && a < minLegalPointer {
			addrs[i] = 0
		}
	}
}

func cBuffers(arr *C.struct_ArrowArray) []unsafe.Pointer {
	if arr.n_buffers <= 0 || arr.buffers == nil {
		return nil
	}
	return unsafe.Slice((*unsafe.Pointer)(unsafe.Pointer(arr.buffers)), int(arr.n_buffers))
}

func cChildren(arr *C.struct_ArrowArray) []*C.struct_ArrowArray {
	if arr.n_children <= 0 || arr.children == nil {
		return nil
	}
	return unsafe.Slice(arr.children, int(arr.n_children))
}

// checkValidity: a NULL validity buffer means no nulls. Beside a validity
// buffer, null_count is set to the nulls the bitmap holds, the authority: a
// producer's wrong count (or -1, which arrow-go would keep as the count of
// child data) makes a flush write the nulls as values, or the bucket refuse
// a non-nullable field's values.
func checkValidity(arr *C.struct_ArrowArray, buffers []unsafe.Pointer, path string) error {
	if buffers[0] != nil {
		offset, length := int(arr.offset), int(arr.length)
		bitmap := unsafe.Slice((*byte)(buffers[0]), bitutil.BytesForBits(int64(offset+length)))
		arr.null_count = C.int64_t(length - bitutil.CountSetBits(bitmap, offset, length))
		return nil
	}
	switch {
	case arr.null_count == -1:
		arr.null_count = 0
	case arr.null_count > 0:
		return fmt.Errorf("%s: null_count is %d but the validity buffer is NULL", path, int64(arr.null_count))
	}
	return nil
}

func needBuffer(buffers []unsafe.Pointer, i int, size int64, path, what string) error {
	if size > 0 && buffers[i] == nil {
		return fmt.Errorf("%s: the %s buffer (buffer %d) is NULL but must hold %d bytes", path, what, i, size)
	}
	return nil
}

func offsetWidth(dt arrow.DataType) int {
	switch dt.ID() {
	case arrow.LARGE_STRING, arrow.LARGE_BINARY, arrow.LARGE_LIST:
		return 8
	}
	return 4
}

// checkOffsets checks the offsets of rows [offset, offset+length): present,
// not negative, never decreasing; it returns the last one (the values or
// child rows they need).
func checkOffsets(buffers []unsafe.Pointer, offset, length int64, width int, path string) (int64, error) {
	if buffers[1] == nil {
		return 0, fmt.Errorf("%s: the offsets buffer (buffer 1) is NULL; even an empty array needs one offset, 0", path)
	}
	at := func(i int64) int64 {
		if width == 8 {
			return *(*int64)(unsafe.Add(buffers[1], i*8))
		}
		return int64(*(*int32)(unsafe.Add(buffers[1], i*4)))
	}
	prev := at(offset)
	if prev < 0 {
		return 0, fmt.Errorf("%s: offset %d of row %d is negative", path, prev, offset)
	}
	for i := offset + 1; i <= offset+length; i++ {
		next := at(i)
		if next < prev {
			return 0, fmt.Errorf("%s: the offsets decrease at row %d (%d after %d)", path, i-1, next, prev)
		}
		prev = next
	}
	return prev, nil
}

// childCovers: a child read at rows up to need must hold that many.
func childCovers(child *C.struct_ArrowArray, need int64, path string) error {
	if int64(child.length) < need {
		return fmt.Errorf("%s: %d rows, but its parent reads %d of them", path, int64(child.length), need)
	}
	return nil
}

// checkIndices: every index of a non-null row names a row of the dictionary.
func checkIndices(arr *C.struct_ArrowArray, buffers []unsafe.Pointer, index arrow.DataType, dictLen int64, path string) error {
	offset, length := int64(arr.offset), int64(arr.length)
	var valid []byte
	if buffers[0] != nil {
		valid = unsafe.Slice((*byte)(buffers[0]), bitutil.BytesForBits(offset+length))
	}
	for i := offset; i < offset+length; i++ {
		if valid != nil && !bitutil.BitIsSet(valid, int(i)) {
			continue
		}
		var v int64
		var u uint64
		p := buffers[1]
		switch index.ID() {
		case arrow.INT8:
			v = int64(*(*int8)(unsafe.Add(p, i)))
		case arrow.UINT8:
			v = int64(*(*uint8)(unsafe.Add(p, i)))
		case arrow.INT16:
			v = int64(*(*int16)(unsafe.Add(p, i*2)))
		case arrow.UINT16:
			v = int64(*(*uint16)(unsafe.Add(p, i*2)))
		case arrow.INT32:
			v = int64(*(*int32)(unsafe.Add(p, i*4)))
		case arrow.UINT32:
			v = int64(*(*uint32)(unsafe.Add(p, i*4)))
		case arrow.INT64:
			v = *(*int64)(unsafe.Add(p, i*8))
		case arrow.UINT64:
			if u = *(*uint64)(unsafe.Add(p, i*8)); u > 1<<62 {
				v = -1
			} else {
				v = int64(u)
			}
		default:
			return fmt.Errorf("%s: dictionary index type %s is not an integer", path, index)
		}
		if v < 0 || v >= dictLen {
			return fmt.Errorf("%s: row %d has dictionary index %d, the dictionary has %d values", path, i-offset, v, dictLen)
		}
	}
	return nil
}

// checkCSchema checks the pointers of a C schema tree before Arrow Go's
// importer follows them (a NULL child or format there is a crash in C, not a
// panic): every struct present and not released, every format set, children
// where n_children says. The formats themselves are the importer's to parse.
func checkCSchema(s *C.struct_ArrowSchema, path string, depth int) error {
	label := path
	if label == "" {
		label = "the top-level struct"
	}
	switch {
	case s == nil:
		return fmt.Errorf("%s: the schema is NULL", label)
	case s.release == nil:
		return fmt.Errorf("%s: the schema is released (its release callback is NULL)", label)
	case s.format == nil:
		return fmt.Errorf("%s: the format string is NULL", label)
	case s.n_children < 0 || (s.n_children > 0 && s.children == nil):
		return fmt.Errorf("%s: n_children is %d but children is %p", label, int64(s.n_children), s.children)
	case depth > 256: // deeper than any schema the engine stores (it stops at 62): a cycle, or garbage
		return fmt.Errorf("%s: the schema nests more than 256 levels", label)
	}
	for i, child := range unsafe.Slice(s.children, int(s.n_children)) {
		name := fmt.Sprintf("child %d", i)
		if child != nil && child.name != nil {
			name = C.GoString(child.name)
		}
		if path != "" {
			name = path + "." + name
		}
		if err := checkCSchema(child, name, depth+1); err != nil {
			return err
		}
	}
	if s.dictionary != nil {
		return checkCSchema(s.dictionary, label+" (dictionary)", depth+1)
	}
	return nil
}

// checkViews: every view of a non-null row lies inside its data buffer (the
// last buffer holds the data buffers' sizes) and, for text, is UTF-8.
func checkViews(arr *C.struct_ArrowArray, buffers []unsafe.Pointer, text bool, path string) error {
	data := buffers[2 : len(buffers)-1]
	sizesPtr := buffers[len(buffers)-1]
	if len(data) > 0 && sizesPtr == nil {
		return fmt.Errorf("%s: the buffer of data buffer sizes (the last buffer) is NULL", path)
	}
	offset, length := int64(arr.offset), int64(arr.length)
	var valid []byte
	if buffers[0] != nil {
		valid = unsafe.Slice((*byte)(buffers[0]), bitutil.BytesForBits(offset+length))
	}
	for i := offset; i < offset+length; i++ {
		if valid != nil && !bitutil.BitIsSet(valid, int(i)) {
			continue
		}
		view := unsafe.Add(buffers[1], i*16)
		n := int64(*(*int32)(view))
		if n < 0 {
			return fmt.Errorf("%s: row %d has a view of length %d", path, i-offset, n)
		}
		if n <= 12 { // inline
			if text && !utf8.Valid(unsafe.Slice((*byte)(unsafe.Add(view, 4)), n)) {
				return fmt.Errorf("%s: row %d is not valid UTF-8", path, i-offset)
			}
			continue
		}
		buf, at := int64(*(*int32)(unsafe.Add(view, 8))), int64(*(*int32)(unsafe.Add(view, 12)))
		if buf < 0 || buf >= int64(len(data)) {
			return fmt.Errorf("%s: row %d names data buffer %d of %d", path, i-offset, buf, len(data))
		}
		size := *(*int64)(unsafe.Add(sizesPtr, buf*8))
		if at < 0 || at+n > size || data[buf] == nil {
			return fmt.Errorf("%s: row %d views bytes [%d, %d) of data buffer %d, which holds %d", path, i-offset, at, at+n, buf, size)
		}
		if text && !utf8.Valid(unsafe.Slice((*byte)(unsafe.Add(data[buf], at)), n)) {
			return fmt.Errorf("%s: row %d is not valid UTF-8", path, i-offset)
		}
	}
	return nil
}

// checkUTF8: the values of rows [offset, offset+length) of a utf8 array are
// UTF-8 and no row starts inside a character. Lance checks this when it
// reads: a flushed invalid string would make the whole file unreadable.
func checkUTF8(buffers []unsafe.Pointer, offset, length int64, width int, path string) error {
	at := func(i int64) int64 {
		if width == 8 {
			return *(*int64)(unsafe.Add(buffers[1], i*8))
		}
		return int64(*(*int32)(unsafe.Add(buffers[1], i*4)))
	}
	first, last := at(offset), at(offset+length)
	if last == first {
		return nil
	}
	values := unsafe.Slice((*byte)(buffers[2]), last)
	if utf8.Valid(values[first:last]) {
		for i := offset + 1; i < offset+length; i++ {
			if o := at(i); o < last && !utf8.RuneStart(values[o]) {
				return fmt.Errorf("%s: row %d starts inside a UTF-8 character", path, i-offset)
			}
		}
		return nil
	}
	for i := offset; i < offset+length; i++ {
		if !utf8.Valid(values[at(i):at(i+1)]) {
			return fmt.Errorf("%s: row %d is not valid UTF-8 (a utf8 column holds text; use binary for bytes)", path, i-offset)
		}
	}
	return fmt.Errorf("%s: the values are not valid UTF-8", path)
}

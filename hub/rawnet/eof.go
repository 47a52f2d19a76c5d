package rawnet

import "io"

// errEOF is io.EOF, returned as is: readers compare with ==.
var errEOF = io.EOF
